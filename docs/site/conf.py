"""Sphinx settings of the course website (``mlp-course site``; mlp_helpers/course/site.py).

The worked notebooks are rendered with their committed outputs, never re-executed
(myst-nb, ``nb_execution_mode = "off"``), with the book theme. MathJax comes from the
jupyter-server-mathjax package, copied into the site, so the maths renders offline.
"""
project = "mlp-from-scratch"
author = "the mlp-from-scratch authors"
copyright = "2026, the mlp-from-scratch authors"

extensions = ["myst_nb"]
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints"]

# the notebooks as they are committed: outputs shown, nothing run
nb_execution_mode = "off"
nb_output_stderr = "show"
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
# the explorer is a live widget: the site shows its scripted tour, not a dead control
# (no widget JavaScript from a CDN; the widget's output falls back to its text)
nb_ipywidgets_js = {}
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None),
                              ("html", "application/vnd.jupyter.widget-state+json", None)]

# MathJax 2 served from the site itself (no CDN): site.py copies it to _static/mathjax/
mathjax_path = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"

html_theme = "sphinx_book_theme"
html_title = "mlp-from-scratch"
html_theme_options = {
    "repository_url": "",
    "use_download_button": False,
    "show_toc_level": 2,
    "home_page_in_toc": True,
}
html_last_updated_fmt = None
html_copy_source = False
html_show_sourcelink = False
# the package ships MathJax with the STIX-Web font only (as Jupyter uses it)
mathjax2_config = {"HTML-CSS": {"availableFonts": [], "preferredFont": None, "webFont": "STIX-Web",
                                "imageFont": None},
                   # the page is marked tex2jax_ignore; Sphinx marks each formula with the class math
                   "tex2jax": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]],
                               "processEscapes": False, "processEnvironments": False, "processRefs": False,
                               "ignoreClass": "tex2jax_ignore|mathjax_ignore",
                               "processClass": "math|tex2jax_process|mathjax_process|output_area"},
                   "menuSettings": {"zoom": "None"}, "showProcessingMessages": False, "messageStyle": "none"}
