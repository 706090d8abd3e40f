"""videoedge.train: fine-tune VideoMAE with the Hugging Face Trainer on a UCF101-style folder.

Heavy dependencies (torch, transformers, pytorchvideo) are imported by the modules that use
them, so `videoedge.train.synth` (numpy + OpenCV) works on the base install.
"""
