/* The spiders that ship with silk, as `silk list` shows them. */
#include "core/silk.h"

#define SILK_BUILTIN_SPIDERS(XX)                                                       \
  XX(silk_catalog_spider)                                                              \
  XX(silk_polite_spider)                                                    \
  XX(silk_followall_spider)                                                            \
  XX(silk_somenasty_spider)                                                            \
  XX(silk_somenasty_fixed_spider)                                                      \
  XX(silk_kwargsleak_spider)                                                           \
  XX(silk_kwargsleak_fixed_spider)                                                     \
  XX(silk_openleak_spider)                                                             \
  XX(silk_openleak_fixed_spider)                                                       \
  XX(silk_dedup_spider)                                                                \
  XX(silk_dedup_fixed_spider)                                                          \
  XX(silk_greedy_spider)

#define XX(sym) extern silk_spider_def sym;
SILK_BUILTIN_SPIDERS(XX)
#undef XX

void silk_spiders_register_builtin(void) {
#define XX(sym) silk_spider_register(&sym);
  SILK_BUILTIN_SPIDERS(XX)
#undef XX
}
