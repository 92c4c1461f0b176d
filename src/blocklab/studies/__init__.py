"""Studies: each an experiment from the source documents, run by `blocklab run NAME`.

blocklab.lab.registry says how to write one (start there); blocklab.lab.runner runs it into a
folder with results.json, metrics.jsonl and figures/. A study is one module, or one package
with fixed role names (config.py, study.py, model.py, figures.py, tables.py, claims.py);
common/ holds what several studies share. MODULES lists every study module in the order
`blocklab list` and `blocklab run all` use: the order of the source documents.
"""

MODULES = (
    # 000: the building blocks, studies 45-51
    "building_blocks.skip_connections.study",
    "building_blocks.normalization.study",
    "building_blocks.attention.study",
    "building_blocks.encoder_decoder",
    "building_blocks.positional_encoding.study",
    "building_blocks.capstone",
    "building_blocks.ablation_matrix",
    # 001: training dynamics of a small Transformer
    "training_dynamics.study",
    # 002: addition heads, length extrapolation
    "addition_heads.study",
    "pe_extrapolation.study",
    # 003: the paper's Transformer
    "paper_spec",
    "sentiment.study",
    # 004: tinytorch, the numpy engine
    "tinytorch.level1",
    "tinytorch.copilot.study",
    # training features and a character LM
    "char_lm.study",
    "train_features",
)
