#include "core/registry.h"

#include <dirent.h>
#include <dlfcn.h>

#include <algorithm>
#include <set>

#include "core/impl.h"
#include "core/log.h"
#include "core/options.h"
#include "core/selection.h"
#include "porta/error.h"

namespace porta::detail {
namespace {

constexpr const char* kModulePrefix = "libporta_backend_";
constexpr const char* kModuleSuffix = ".so";
// Preferred order of backends in porta::devices(); others follow alphabetically, cpu last.
const std::vector<std::string> kBackendOrder = {"cuda", "hip", "vulkan", "opencl"};
const std::vector<std::string> kWellKnown = {"cuda", "hip", "vulkan", "opencl", "cpu"};

int order_of(const std::string& name) {
  if (name == "cpu") return 1000;
  auto it = std::find(kBackendOrder.begin(), kBackendOrder.end(), name);
  return it == kBackendOrder.end() ? 100 : static_cast<int>(it - kBackendOrder.begin());
}

std::string library_dir() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&static_backends), &info) == 0 || info.dli_fname == nullptr) return {};
  std::string path = info.dli_fname;
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

std::vector<std::string> module_files(const std::string& dir) {
  std::vector<std::string> files;
  DIR* d = opendir(dir.c_str());
  if (!d) return files;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name.rfind(kModulePrefix, 0) == 0 && name.size() > std::string(kModulePrefix).size() + 3 &&
        name.compare(name.size() - 3, 3, kModuleSuffix) == 0)
      files.push_back(name);
  }
  closedir(d);
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

Registry& Registry::instance() {
  static Registry* registry = new Registry();
  // Statics are destroyed in reverse order of construction, so this runs at exit after every
  // static object that used porta later than discovery (an engine's global streams and
  // tensors) is gone, and before the backend modules' own statics.
  static struct AtExit {
    ~AtExit() { registry->shutdown(); }
  } at_exit;
  return *registry;
}

void Registry::shutdown() {
  for (auto& d : devices_) d.impl()->shutdown();
  for (auto& be : backends_) {
    try {
      be->shutdown();
    } catch (const std::exception& e) {
      log_warn(std::string("backend ") + be->name() + ": shutdown failed: " + e.what());
    }
  }
  // The objects stay: a vendor runtime's own exit handlers may already have run (CUDA's
  // does), so core calls into backends only to release what users still hold.
}

Device Registry::recreate(const Device& lost) {
  auto* old = lost.impl();
  if (!old->lost())
    throw Error(Errc::invalid_argument,
                "Device::recreate: " + lost.description() +
                    " is not lost; only a device that raised device_lost is re-created");
  std::lock_guard<std::mutex> lock(recreate_mu_);
  auto fresh = old->call_backend_recreate(env_options().backend);
  return Device(std::move(fresh));
}

Registry::Registry() {
  const auto& opts = env_options();
  for (const auto& s : static_backends()) add_backend("linked into libporta", s.entry(), nullptr);
  load_modules();
  // Stable order: backend preference, then the backend's own device order.
  std::stable_sort(devices_.begin(), devices_.end(), [](const Device& a, const Device& b) {
    return order_of(a.info().backend) < order_of(b.info().backend);
  });
  for (const auto& d : devices_) log_debug("found " + d.description());
  (void)opts;
}

void Registry::add_backend(const std::string& origin, const backend::BackendModule* module,
                           std::shared_ptr<void> library) {
  if (module == nullptr) {
    diagnostics_.push_back(origin + ": entry point returned no module");
    return;
  }
  const std::string name = module->name ? module->name : "?";
  if (module->interface_version != backend::kInterfaceVersion) {
    const std::string why = "module " + origin + " was built for backend interface " +
                            std::to_string(module->interface_version) + ", this libporta has " +
                            std::to_string(backend::kInterfaceVersion) + "; rebuild it with this porta";
    load_errors_[name] = why;
    diagnostics_.push_back(name + ": " + why);
    log_warn(why);
    return;
  }
  if (std::find(backend_names_.begin(), backend_names_.end(), name) != backend_names_.end()) {
    diagnostics_.push_back(name + ": " + origin + " ignored, the backend is already loaded");
    return;
  }
  try {
    // The shared_ptr's deleter keeps the module mapped as long as the backend lives.
    std::shared_ptr<backend::Backend> be(module->create(),
                                         [lib = std::move(library)](backend::Backend* b) { delete b; });
    if (!be) throw Error(Errc::internal, "create() returned null");
    auto found = be->enumerate(env_options().backend);
    const auto notes = be->diagnostics();
    for (const auto& note : notes) diagnostics_.push_back(name + ": " + note);
    backend_names_.push_back(name);
    if (!found.empty()) backends_.push_back(be);
    if (found.empty()) {
      load_errors_[name] = "loaded, no device found";
      // Said even when the backend gave no reason, so an empty device list is never silent.
      if (notes.empty()) diagnostics_.push_back(name + ": loaded (" + origin + "), no device found");
      log_info("backend " + name + " (" + origin + ") found no device");
    }
    int index = 0;
    for (auto& dev : found) {
      DeviceInfo info = dev->info();
      info.backend = name;
      info.index = index++;
      dev->info() = info;
      devices_.emplace_back(std::make_shared<DeviceImpl>(be, std::move(dev), info));
    }
  } catch (const std::exception& e) {
    const std::string why = "failed to initialise (" + origin + "): " + e.what();
    load_errors_[name] = why;
    diagnostics_.push_back(name + ": " + why);
    log_warn("backend " + name + " " + why);
  }
}

std::vector<std::string> module_search_dirs() {
  std::vector<std::string> dirs = env_options().plugin_path;
  const std::string own = library_dir();
  if (!own.empty()) {
    dirs.push_back(own);
    dirs.push_back(own + "/porta");  // <libdir>/porta of wherever this libporta was installed
  }
#ifdef PORTA_PLUGIN_INSTALL_DIR
  dirs.push_back(PORTA_PLUGIN_INSTALL_DIR);
#endif
  return dirs;
}

void Registry::load_modules() {
  const std::vector<std::string> dirs = module_search_dirs();
  std::set<std::string> seen;
  for (const auto& dir : dirs) {
    for (const auto& file : module_files(dir)) {
      const std::string name =
          file.substr(std::string(kModulePrefix).size(), file.size() - std::string(kModulePrefix).size() - 3);
      if (!seen.insert(name).second) continue;  // earlier directories win
      const std::string path = dir + "/" + file;
      dlerror();
      void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!handle) {
        const char* err = dlerror();
        const std::string why = "module " + path + " failed to load: " + (err ? err : "unknown error");
        load_errors_[name] = why;
        diagnostics_.push_back(name + ": " + why);
        log_warn(why);
        continue;
      }
      std::shared_ptr<void> lib(handle, [](void* h) { dlclose(h); });
      using EntryFn = const backend::BackendModule* (*)();
      auto entry = reinterpret_cast<EntryFn>(dlsym(handle, "porta_backend_entry"));
      if (!entry) {
        const std::string why =
            "module " + path + " has no porta_backend_entry symbol; it is not a porta backend";
        load_errors_[name] = why;
        diagnostics_.push_back(name + ": " + why);
        log_warn(why);
        continue;
      }
      add_backend(path, entry(), lib);
    }
  }
}

Device Registry::select(const std::string& spec_arg) const {
  const std::string spec = spec_arg.empty() ? env_options().device_spec : spec_arg;
  SelectionContext ctx;
  for (const auto& d : devices_) {
    const auto& i = d.info();
    ctx.devices.push_back({i.backend, i.index, i.type, i.software, i.uuid, i.name});
  }
  ctx.known_backends = kWellKnown;
  for (const auto& n : backend_names_)
    if (std::find(ctx.known_backends.begin(), ctx.known_backends.end(), n) == ctx.known_backends.end())
      ctx.known_backends.push_back(n);
  for (const auto& [n, why] : load_errors_) {
    if (std::find(ctx.known_backends.begin(), ctx.known_backends.end(), n) == ctx.known_backends.end())
      ctx.known_backends.push_back(n);
  }
  ctx.load_errors = load_errors_;
  for (const auto& n : kWellKnown) {
    if (std::find(backend_names_.begin(), backend_names_.end(), n) == backend_names_.end() &&
        !load_errors_.count(n))
      ctx.load_errors[n] = "not built or no module found";
  }
  const Selection sel = select_device(spec, ctx);
  for (const auto& note : sel.notes) log_info(note);
  const Device& d = devices_[sel.position];
  log_info("selected " + d.description() + ": " + sel.reason);
  return d;
}

}  // namespace porta::detail
