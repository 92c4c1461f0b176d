"""Source document 002: 3-digit addition, decodings and head ablations."""
