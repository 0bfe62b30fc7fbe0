/* The components that ship with silk, registered by silk_global_init so that the
 * *_BASE settings can name them. Each lives in its own file. */
#include "core/internal.h"

#define SILK_BUILTIN_COMPONENTS(XX) XX(silk_logstats_def)

#define XX(sym) extern silk_component_def sym;
SILK_BUILTIN_COMPONENTS(XX)
#undef XX

void silk__components_register_builtin(void) {
#define XX(sym) silk_component_register(&sym);
  SILK_BUILTIN_COMPONENTS(XX)
#undef XX
}
