"""Fine-tuning: options, the losses, the Trainer, the training job, distillation from teachers, the hyperparameter
search and the run folder."""
