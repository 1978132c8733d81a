"""An infinite loop at import: every item that imports this file times out."""
while True:
    pass
