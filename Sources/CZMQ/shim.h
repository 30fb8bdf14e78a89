// libzmq (apt: libzmq3-dev). Imported only by the Transport target.
// No pkgConfig in Package.swift: libzmq.pc adds "-isystem /usr/include/mit-krb5" (Requires.private),
// which SwiftPM rejects as a prohibited flag; zmq.h and libzmq.so are on the default paths anyway.
#include <zmq.h>
