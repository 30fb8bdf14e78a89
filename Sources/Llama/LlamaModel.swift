import Checkpoints
import Tensors
public enum LlamaPlaceholder {}
