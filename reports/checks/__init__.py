"""The checks a compliance requirement is judged by, one module per family (``mfa``, ``accounts``,
``signins``, ``updates``, ``malware``, ``firewall``), each a function of a :class:`CheckContext`
returning a :class:`CheckResult`. ``implementations`` maps every name of ``reports.registry.Check``
to its function; a name without one answers "not evidenced: check not implemented", never pass.

Import from the submodules: this package file imports nothing, so no module of the package can
import itself back through it.
"""
