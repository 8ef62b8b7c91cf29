#include "core/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <mutex>

#include "core/options.h"

namespace porta::detail {
namespace {

spdlog::logger& logger() {
  // Never destroyed: backends may log from static destructors at exit.
  static spdlog::logger* instance = [] {
    auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    auto* l = new spdlog::logger("porta", sink);
    l->set_pattern("[porta %^%l%$] %v");
    const auto& opts = env_options();
    spdlog::level::level_enum level = spdlog::level::warn;
    std::string bad;
    if (!opts.log_level.empty()) {
      level = spdlog::level::from_str(opts.log_level);
      // from_str maps unknown names to "off"; only accept exact names.
      if (level == spdlog::level::off && opts.log_level != "off") {
        bad = opts.log_level;
        level = spdlog::level::warn;
      }
    }
    l->set_level(level);
    if (!bad.empty())
      l->warn("PORTA_LOG_LEVEL='{}' is not one of trace, debug, info, warn, error, critical, off; using warn",
              bad);
    for (const auto& w : opts.warnings) l->warn("{}", w);
    return l;
  }();
  return *instance;
}

}  // namespace

void emit_log(backend::LogLevel level, const std::string& message) {
  auto& l = logger();
  switch (level) {
    case backend::LogLevel::trace: l.trace("{}", message); break;
    case backend::LogLevel::debug: l.debug("{}", message); break;
    case backend::LogLevel::info: l.info("{}", message); break;
    case backend::LogLevel::warn: l.warn("{}", message); break;
    case backend::LogLevel::error: l.error("{}", message); break;
  }
}

}  // namespace porta::detail

namespace porta::backend {
void log(LogLevel level, const std::string& message) { porta::detail::emit_log(level, message); }
}  // namespace porta::backend
