"""Diagnosis: the engine behind the students' self-checks (:mod:`mlp_helpers.course.checks`).

A check computes what a student's function should return; this module compares that
with what it did return and, on a mismatch, raises :class:`CheckFailed` with a
message that names the quantity, the entry, the two values and the likely cause.
Causes come from two places: the patterns any result can show (:func:`value_cause`:
a flipped sign, a missing transpose, a factor of the batch size, a constant offset;
:func:`shape_cause`: a transposed or unsummed shape), and the check's own list of
``hypotheses``, pairs (what a known slip would have returned, the sentence naming
it), tried first. It also calls the student's function (:func:`call`) and reads what
came back (:func:`as_array`, :func:`loss_and_grads`), so a wrong kind of answer is
named too.
"""
import re
import warnings

import numpy as np

__all__ = ["CheckFailed", "RTOL", "ATOL", "PARAM_NAMES", "close", "fmt", "as_array", "shape_cause",
           "value_cause", "compare", "index_text", "call", "grads_dict", "loss_and_grads", "passed",
           "snapshot", "check_unchanged", "cause_of", "NOT_ATTEMPTED"]

RTOL, ATOL = 1e-4, 1e-6
"""An entry passes when |obtained - expected| <= ATOL + RTOL |expected|.

Loose enough for a float32 implementation (relative rounding ~1e-7) and for the
finite differences (error ~1e-10 here); every mistake the checks name is off by far
more on the cases used (entries of size ~0.01 to 1).
"""

PARAM_NAMES = ("W", "b", "V", "c")


class CheckFailed(AssertionError):
    """A self-check found a mismatch; the message says where, by how much, and why (likely)."""


def close(a, b):
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=RTOL, atol=ATOL))


def fmt(v):
    return f"{float(v):+.8g}"


def as_array(value, check, what):
    """The student's result as a float64 array, or CheckFailed saying what came back."""
    if value is None:
        raise CheckFailed(f"{check}: {what} should be numbers, but your function returned None "
                          f"(a missing `return`?)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise CheckFailed(f"{check}: {what} should be numbers (an array or a list), "
                          f"but your function returned {type(value).__name__}: {value!r:.200}") from None
    return arr


def shape_cause(what, expected, obtained, dims):
    """A likely cause for a wrong shape, or None."""
    e, o = expected.shape, obtained.shape
    names = dims or tuple(str(n) for n in e)
    if len(e) == 2 and o == e[::-1]:
        return (f"a missing transpose: {what} has shape ({names[1]}, {names[0]}) = {o} instead of "
                f"({names[0]}, {names[1]}) = {e}; a gradient always has the shape of what it is the "
                f"gradient of (swap the operands or transpose one of them)")
    if len(e) == 1 and len(o) == 2 and o[1] == e[0]:
        return (f"{what} still has one row per example, shape {o}: sum it over the batch "
                f"(axis=0) to get shape {e}, because the bias is shared by every example")
    if len(e) == 1 and len(o) == 2 and o[0] == e[0]:
        return f"{what} has shape {o}, expected {e}: sum over axis 0 (the batch), not axis 1"
    return None


def value_cause(expected, obtained, hypotheses, batch):
    """The first pattern that explains obtained vs expected (same shape), as a sentence."""
    for alt, cause in hypotheses:
        if alt is not None and close(obtained, np.asarray(alt, dtype=np.float64)):
            return cause
    if np.abs(expected).max() > ATOL:
        if close(obtained, -expected):
            return ("a flipped sign: every entry is the negative of the expected one "
                    "(for example t - y where y - t belongs, or a minus sign lost in the chain rule)")
        if expected.ndim == 2 and expected.shape[0] == expected.shape[1] and close(obtained, expected.T):
            return "a missing transpose: the values are those of the expected matrix, transposed"
        if batch > 1 and close(obtained, batch * expected):
            return (f"a forgotten mean over the batch: every entry is {batch} (the batch size B) times "
                    f"too large; the loss is the MEAN over the batch, so divide by B once")
        if batch > 1 and close(obtained, expected / batch):
            return (f"divided by the batch size twice: every entry is {batch} (B) times too small; "
                    f"divide by B once, where dl/do = (y - t) / B")
    diff = obtained - expected
    if diff.size > 1 and np.allclose(diff, diff.flat[0], rtol=0, atol=ATOL):
        return (f"off by a constant ({fmt(diff.flat[0])} in every entry): a term is missing or "
                f"extra, for example a forgotten bias")
    if diff.ndim == 2 and diff.shape[0] > 1 and np.allclose(diff, diff[0], rtol=0, atol=ATOL):
        return "off by the same vector in every row: a forgotten bias (or one added twice)"
    return None


def compare(check, what, expected, obtained, *, context="", hint="", hypotheses=(), batch=1, dims=None):
    """Raise CheckFailed unless obtained matches expected (float64 arrays)."""
    where = f" ({context})" if context else ""
    if obtained.shape != expected.shape:
        cause = shape_cause(what, expected, obtained, dims) or (
            f"{what} must have shape {expected.shape}" + (f": {hint}" if hint else ""))
        raise CheckFailed(f"{check}: {what} has the wrong shape{where}: expected {expected.shape}, "
                          f"obtained {obtained.shape}.\n  likely cause: {cause}")
    if not np.isfinite(obtained).all():
        idx = np.unravel_index(int(np.argmax(~np.isfinite(obtained))), obtained.shape)
        raise CheckFailed(
            f"{check}: {what}{index_text(idx)} is {float(obtained[idx])} (not finite){where}; "
            f"expected {fmt(float(expected[idx]))}.\n"
            f"  likely cause: an overflow: exp of a large number is inf; subtract the row maximum "
            f"before exp (softmax), use log-softmax for the loss, a stable sigmoid")
    if close(obtained, expected):
        return
    err = np.abs(obtained - expected) - RTOL * np.abs(expected)
    idx = np.unravel_index(int(np.argmax(err)), expected.shape)
    entry = index_text(idx)
    cause = value_cause(expected, obtained, hypotheses, batch)
    if cause is None:
        cause = ("no simple pattern (sign, transpose, factor B, constant offset) explains the "
                 "difference; go through the chain rule for this quantity again"
                 + (f": {hint}" if hint else ""))
    n_bad = int(np.count_nonzero(~np.isclose(obtained, expected, rtol=RTOL, atol=ATOL)))
    count = f"; {n_bad} of {expected.size} entries differ" if expected.size > 1 else ""
    raise CheckFailed(
        f"{check}: {what}{entry} is wrong{where}{count}.\n"
        f"  expected {fmt(expected[idx])}\n"
        f"  obtained {fmt(obtained[idx])}\n"
        f"  likely cause: {cause}")


def index_text(idx):
    """'[i, j]' for an index tuple; '' for a single number."""
    return f"[{', '.join(str(int(i)) for i in idx)}]" if idx else ""


def call(check, fn, *args):
    """Call the student's function; a crash inside it is reported as what it is (not hidden)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn(*args)


def grads_dict(check, grads):
    """Accept a dict with 'W', 'b', 'V', 'c' or a 4-tuple (gW, gb, gV, gc)."""
    if isinstance(grads, dict):
        missing = [n for n in PARAM_NAMES if n not in grads]
        if missing:
            raise CheckFailed(f"{check}: the grads dict has no entry for {', '.join(missing)}; "
                              f"it needs keys 'W', 'b', 'V', 'c'")
        return grads
    if isinstance(grads, (tuple, list)) and len(grads) == 4:
        return dict(zip(PARAM_NAMES, grads))
    raise CheckFailed(f"{check}: grads must be a dict with keys 'W', 'b', 'V', 'c' or a tuple "
                      f"(dW, db, dV, dc), got {type(grads).__name__}")


def loss_and_grads(check, out):
    if not (isinstance(out, tuple) and len(out) == 2):
        raise CheckFailed(f"{check}: your function must return (loss, grads), "
                          f"got {type(out).__name__}{'' if not isinstance(out, tuple) else f' of length {len(out)}'}")
    loss, grads = out
    return as_array(loss, check, "the loss"), grads_dict(check, grads)


def passed(message):
    print(f"✓ {message}")


def snapshot(p):
    return {k: np.array(v, dtype=np.float64) for k, v in p.items()}


def check_unchanged(name, before, after, what):
    for k in before:
        if not np.array_equal(before[k], np.array(after[k], dtype=np.float64)):
            raise CheckFailed(f"{name}: your function changed its argument {what}{k!r}; "
                              f"computing the loss and gradients must leave the weights alone "
                              f"(work on new arrays, not with -= or [...] = on the inputs)")


NOT_ATTEMPTED = "not attempted (the exercise still raises NotImplementedError)"


def cause_of(ename, evalue):
    """The likely cause named by a failed check's message, in a few words, for counting.

    ``ename``, ``evalue``: the error's class name and message, as a notebook's error output
    holds them. A CheckFailed message of this module says ``likely cause: <cause>: <why>``;
    the cause is the words before the first colon, semicolon or parenthesis ("a flipped
    sign", "a missing transpose", "no simple pattern"). Other errors are named by kind.
    """
    if ename == "NotImplementedError":
        return NOT_ATTEMPTED
    if ename == "CheckFailed":
        if "likely cause:" in evalue:
            text = evalue.split("likely cause:", 1)[1].strip()
            words = re.split(r"[:;(\n]", text, maxsplit=1)[0].strip().rstrip(".,")
            return words if len(words) <= 80 else words[:77] + "..."
        first = evalue.split(":", 1)[-1].strip().splitlines()[0] if evalue.strip() else ""
        return "a wrong result: " + (first if len(first) <= 60 else first[:57] + "...")
    return f"an error in the student's code ({ename})" if ename else "an error"
