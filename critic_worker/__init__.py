"""The critic. `profiles` is light and safe to import anywhere (the web uses it for choices and ranges);
the model engine imports torch and transformers and is only loaded by critic workers."""
