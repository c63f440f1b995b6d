"""Feature extractors shared by pairing, metrics and models: named layers of pretrained nets."""
