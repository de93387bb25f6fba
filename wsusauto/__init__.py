"""wsusauto: automate fleets of WSUS servers over WinRM.

The library is the product; the ``wsusauto`` command is a thin shell over it.
"""

__version__ = "0.1.0"
