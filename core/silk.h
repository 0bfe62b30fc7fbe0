/* silk: everything a spider, middleware or pipeline needs, in one include. */
#ifndef SILK_H
#define SILK_H

#include "core/buf.h"
#include "core/component.h"
#include "core/engine.h"
#include "core/error.h"
#include "core/headers.h"
#include "core/item.h"
#include "core/log.h"
#include "core/ref.h"
#include "core/request.h"
#include "core/response.h"
#include "core/settings.h"
#include "core/signals.h"
#include "core/spider.h"
#include "core/stats.h"
#include "core/url.h"
#include "core/value.h"
#include "tracking/alloc.h"
#include "tracking/trackref.h"

#endif
