"""The built-in dashboard themes, shipped as the package `lanes_tui.builtin_themes`.

This file exists only so the folder is a regular package: setuptools' editable
install cannot import a namespace sub-package mapped through `package-dir`, and
`importlib.resources.files()` then returns a real directory in every install.
"""
