// protobuf-c runtime (apt: libprotobuf-c-dev). Imported only by FastKVProto and the Wire target.
#include <protobuf-c/protobuf-c.h>
