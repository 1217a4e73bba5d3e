// faultline/faultline.h — the whole public API.
#pragma once

#include "faultline/engine.h"
#include "faultline/error.h"
#include "faultline/store.h"
