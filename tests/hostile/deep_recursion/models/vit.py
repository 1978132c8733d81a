# hostile: on top of the reference
# MultiHeadSelfAttention.forward recurses without end, past any Python limit (C stack overflow).
import sys as _sys


def _down(self, x, depth=0):
    return list(map(lambda d: _down(self, x, d), [depth + 1]))  # each level also goes through C


def _recurse(self, x):
    _sys.setrecursionlimit(10**7)
    return _down(self, x)


MultiHeadSelfAttention.forward = _recurse  # noqa: F821
