"""Foundation shared by every layer: the exception root, the workspace, atomic writes, typed config.

Lives below ``tuning``, ``rag``, ``studies`` and ``advisor`` so that each of them can use it
without importing upward. Pure standard library (plus PyYAML for config files).
"""
