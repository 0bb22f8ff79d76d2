"""Fine-tuning with the seed's recipes (`evalkit finetune`): recipes are TOML data in recipes/,
training runs on transformers' Trainer (+ peft), and training_record.json beside the weights feeds the
star table's Training Time row. Modules: recipe (load/validate), basemodel (what to start from),
data (examples, loss on story tokens only), loading (4-bit, LoRA, precision), arguments
(TrainingArguments, optimizer check), output (resume/refuse/install), progress (callbacks),
record (TrainingRecord), train (the glue). Import submodules directly: this package stays light."""
