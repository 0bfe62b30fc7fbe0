/* Forward declarations shared by every silk header. */
#ifndef SILK_TYPES_H
#define SILK_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct silk_ref silk_ref;
typedef struct silk_class silk_class;
typedef struct silk_value silk_value;
typedef struct silk_args silk_args;
typedef struct silk_dict silk_dict;
typedef struct silk_list silk_list;
typedef struct silk_buf silk_buf;
typedef struct silk_spider silk_spider;
typedef struct silk_spider_def silk_spider_def;
typedef struct silk_request silk_request;
typedef struct silk_response silk_response;
typedef struct silk_item silk_item;
typedef struct silk_selector silk_selector;
typedef struct silk_settings silk_settings;
typedef struct silk_stats silk_stats;
typedef struct silk_engine silk_engine;
typedef struct silk_output silk_output;
typedef struct silk_component silk_component;
typedef struct silk_component_def silk_component_def;

#endif
