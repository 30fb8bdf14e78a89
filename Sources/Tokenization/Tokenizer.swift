// Placeholder: replaced by the Tokenization work.
public enum TokenizationPlaceholder {}
