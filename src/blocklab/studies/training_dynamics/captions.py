"""What each figure of the training-dynamics study plots, for its caption in the report (Study.figure_captions;
the report adds which seeds it shows and what its bands are). A key may be a glob, for names that depend on the
config. Maps of one model's internals show the run's lowest seed: heads and neurons do not line up across seeds."""
from __future__ import annotations

from blocklab.report.gallery import Caption

CAPTIONS = {
    "td_loss_accuracy.png": "Loss and accuracy per epoch on train, validation and test, source-document "
                            "split (solid) and disjoint split (dashed); the training loss is a running mean with "
                            "dropout on",
    "td_per_op.png": "Test accuracy of each op per epoch, one panel per split",
    "td_confusion.png": Caption("Final epoch, test set: whose answer the model gives for each op, and the answer "
                                "digit predicted against the true one (% of each row)", bands=False),
    "td_attention_epoch*.png": Caption("Every block's and head's attention on one probe input at that epoch (rows "
                                       "attend to columns)", seeds="first"),
    "td_embeddings.png": Caption("Token embeddings on the final epoch's two principal axes at each snapshot (one "
                                 "seed; red ops, blue digits), the mean cosine within and across ops and digits (all "
                                 "seeds), and the cosine matrices (one seed)", seeds="mixed"),
    "td_ffn_specialization.png": Caption("Each FFN neuron's mean activation at the answer position, by op and by "
                                         "answer digit, per block of the final model", seeds="first"),
    "td_gradients.png": "Mean |gradient| per layer over each epoch (source-document split baseline)",
    "td_parameters.png": Caption("Mean |parameter change| per epoch by group and a few single parameters (all "
                                 "seeds), and the output bias rows (one seed; red ops, blue digits)", seeds="mixed"),
    "td_sweep_optimizer.png": "Validation accuracy against examples seen, with the source document's optimizer changed",
    "td_sweep_lr.png": "Validation accuracy against examples seen, with Adam's learning rate changed",
    "td_sweep_schedule.png": "Validation accuracy against examples seen, with the schedule changed",
    "td_sweep_batch.png": "Validation accuracy against examples seen, with the batch size changed",
    "td_sweep_size.png": "Test accuracy by training-set size, the source document's recipe otherwise",
    "td_ablations.png": "Test accuracy with one component of the source document's model removed",
    "td_headline.png": Caption("The headline recipe: validation accuracy against training CPU seconds, one line "
                               "for each run (every seed of every repeat; blue: source-document split, orange: "
                               "disjoint), and the means of test accuracy, CPU seconds and seconds to 95% and 99% "
                               "over all its runs pooled", seeds="each", bands=True),
    "td_splits.png": "Test accuracy of each cell on the source-document split (test inputs mostly seen in "
                     "training) and on the disjoint split (never seen)",
    "training_dynamics_gen_unseen_inputs.png": "Test accuracy by what training saw: seen and new orderings, new "
                                               "multisets, unseen combinations, held-out digits; dashed: C001-14's "
                                               "90% threshold",
    "training_dynamics_gen_held_out.png": "Each op trained without one digit: accuracy on the test rows holding it "
                                          "and on those whose answer it is",
    "training_dynamics_gen_edge_cases.png": Caption("Accuracy over all 1000 triples per op, by how many arguments "
                                                    "are equal; the titles give each seed's answer to Max(0,0,0)",
                                                    bands=False),
    "training_dynamics_gen_middle.png": "Middle(a,b,c), never trained: how often its answer is each trained op's",
    "training_dynamics_gen_lengths.png": "Trained on 3 arguments, tested on other counts: accuracy over the ops and "
                                         "per op at the longest",
    "training_dynamics_gen_long_training.png": "Train and validation loss when training runs past the normal "
                                               "length"}
