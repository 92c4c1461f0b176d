"""What each figure of study 45 (skip connections) plots, for its caption in the report (Study.figure_captions;
the report adds which seeds it shows and what its bands are)."""
from __future__ import annotations

from blocklab.report.gallery import Caption

CAPTIONS = {
    "45_skip_connections_training.png": "Spirals: validation accuracy per training step of the plain (dashed) and "
                                        "residual (solid) networks at each depth, one panel per initialization",
    "45_skip_connections_gradients.png": "log10 gradient norm per block (1 = nearest the input), one row per "
                                         "initialization: at initialization and the mean of logs during training, "
                                         "plain (dashed) and residual (solid) at each depth; a line ends where the "
                                         "gradient underflows to 0",
    "45_skip_connections_highway.png": "log10 norm of the gradient reaching the first block at initialization "
                                       "against the number of layers, plain (dashed) and residual (solid), per "
                                       "initialization",
    "45_skip_connections_dense.png": Caption("Learned P(arm 1) over the plane of the plain and residual networks "
                                             "at the shallowest depth, one row per initialization, with the two "
                                             "true spiral arms as lines; titles give the mean test accuracy",
                                             bands=False),
    "45_skip_connections_concept.png": "Left: log10 RMS of the stream per block at initialization in the deepest "
                                       "probe network, plain (dashed) and residual (solid). Right: log10 of "
                                       "||x|| / ||F(x)|| per block of the residual network at the shallowest depth, "
                                       "at initialization (dashed) and trained",
    "45_skip_failures.png": "At the shallowest depth: log10 ||scale x|| / ||F(x)|| in the last block for each skip "
                            "scale; test accuracy of the scaled, residual and plain networks (dotted: chance, 50%; "
                            "dots: seeds); the error add_residual gives for mismatched widths, and the runs that "
                            "diverged"}
