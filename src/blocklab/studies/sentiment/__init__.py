"""Source document 003: Rotten Tomatoes, EncoderClassifier vs bag-of-words."""
