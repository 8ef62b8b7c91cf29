// porta's logger (spdlog, stderr, level from PORTA_LOG_LEVEL; default warn).
#pragma once

#include <string>

#include "core/backend.h"

namespace porta::detail {

void emit_log(backend::LogLevel level, const std::string& message);
inline void log_debug(const std::string& m) { emit_log(backend::LogLevel::debug, m); }
inline void log_info(const std::string& m) { emit_log(backend::LogLevel::info, m); }
inline void log_warn(const std::string& m) { emit_log(backend::LogLevel::warn, m); }

}  // namespace porta::detail
