/* The spider middlewares and spider-side extensions that ship with silk, registered by
 * silk_global_init (core/builtins.c) so that SPIDER_MIDDLEWARES_BASE and EXTENSIONS_BASE
 * can name them. */
#include "core/silk.h"

extern silk_component_def silk_httperror_mw_def;
extern silk_component_def silk_offsite_mw_def;
extern silk_component_def silk_referer_mw_def;
extern silk_component_def silk_urllength_mw_def;
extern silk_component_def silk_depth_mw_def;
extern silk_component_def silk_closespider_def;
extern silk_component_def silk_feedexporter_def;

void silk__register_spider_components(void);

void silk__register_spider_components(void) {
  silk_component_def *defs[] = {&silk_httperror_mw_def, &silk_offsite_mw_def, &silk_referer_mw_def,
                                &silk_urllength_mw_def, &silk_depth_mw_def,   &silk_closespider_def,
                                &silk_feedexporter_def};
  for (size_t i = 0; i < sizeof defs / sizeof *defs; i++)
    silk_component_register(defs[i]);
}
