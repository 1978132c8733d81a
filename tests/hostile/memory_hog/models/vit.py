# hostile: on top of the reference
# MlpBlock.forward grabs memory until something stops it.
def _hog(self, x):
    hoard = []
    while True:
        hoard.append(bytearray(256 << 20))
        hoard[-1][::4096] = b"x" * len(hoard[-1][::4096])  # touch every page


MlpBlock.forward = _hog  # noqa: F821
