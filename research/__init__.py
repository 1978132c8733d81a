"""Research track: the ViT paper's claims vs our runs, and the architecture comparison sweep."""
