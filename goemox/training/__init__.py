"""Fine-tuning: options, the loss, the Trainer, the training job, the hyperparameter search and the run folder."""
