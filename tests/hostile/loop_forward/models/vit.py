# hostile: on top of the reference
# The whole model's forward never returns; every other class is right.
def _forever(self, x):
    while True:
        x = x + 0


VisionTransformer.forward = _forever  # noqa: F821
