import Llama
public enum EnginePlaceholder {}
