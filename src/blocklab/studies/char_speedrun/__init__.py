"""The speedrun: nanoGPT's CPU recipe against blocklab's best, in CPU seconds to the same validation loss."""
