import COpenBLAS
import CKernels
public enum TensorsPlaceholder {}
