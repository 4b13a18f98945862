// The header compiled as C on its own (SwiftPM needs a source file in a C target), with the layout
// facts the Python package's ctypes mirror relies on.
#include "dolly.h"

_Static_assert(sizeof(dolly_status) == 4, "dolly_status is an int");
_Static_assert(sizeof(dolly_model_params) == 16, "dolly_model_params: 3 int32 and a bool, padded");
_Static_assert(sizeof(dolly_generate_result) == 32, "dolly_generate_result");
