"""``policysim view``: explore scenarios and runs in the browser (Solara).

Only :mod:`policysim.view.app` and :mod:`policysim.view.server` import Solara; the other modules
(controls, runs, county, words, security, config) are plain Python the pages and tests share.
Install with ``pip install "policysim[view]"``.
"""
