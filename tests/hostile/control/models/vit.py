# hostile: on top of the reference
# No attack: the reference model alone scores full marks (the baseline for the other cases).
