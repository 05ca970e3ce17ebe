#include "cli/models.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "cli/model_client.h"
#include "runtime/model_details.h"
#include "runtime/model_name.h"

namespace locus::cli {
namespace {

using nlohmann::json;

std::string str(const json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

uint64_t u64(const json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_number_unsigned() ? it->get<uint64_t>()
         : it != j.end() && it->is_number()        ? static_cast<uint64_t>(std::max(0.0, it->get<double>()))
                                                   : 0;
}

// RFC 3339 ("2026-06-04T10:00:00.123456789Z", "...+02:00") to Unix seconds; nothing when it does not parse.
std::optional<int64_t> parse_time(const std::string& s) {
  std::tm tm{};
  int consumed = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &consumed) != 6) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  int64_t t = timegm(&tm);
  size_t i = static_cast<size_t>(consumed);
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  }
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int hh = 0, mm = 0;
    if (std::sscanf(s.c_str() + i + 1, "%2d:%2d", &hh, &mm) == 2) t -= (s[i] == '+' ? 1 : -1) * (hh * 3600 + mm * 60);
  }
  return t;
}

std::string plural(int64_t n, const char* unit) {
  return std::to_string(n) + " " + unit + (n == 1 ? "" : "s");
}

// The span in words as Ollama's CLI writes it.
std::string span_words(int64_t s) {
  if (s < 1) return "Less than a second";
  if (s < 60) return plural(s, "second");
  if (s < 120) return "About a minute";
  if (s < 3600) return plural(s / 60, "minute");
  if (s < 7200) return "About an hour";
  if (s < 86400) return plural(s / 3600, "hour");
  if (s < 7 * 86400) return plural(s / 86400, "day");
  if (s < 30 * 86400) return plural(s / (7 * 86400), "week");
  if (s < 365 * 86400) return plural(s / (30 * 86400), "month");
  return plural(s / (365 * 86400), "year");
}

// Columns padded to their widest cell, three spaces apart.
std::string table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& r : rows) {
    if (width.size() < r.size()) width.resize(r.size(), 0);
    for (size_t c = 0; c < r.size(); ++c) width[c] = std::max(width[c], r[c].size());
  }
  std::string out;
  for (const auto& r : rows) {
    std::string line;
    for (size_t c = 0; c < r.size(); ++c) {
      line += r[c];
      if (c + 1 < r.size()) line += std::string(width[c] - r[c].size() + 3, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string short_id(const std::string& digest) {
  std::string d = digest;
  if (d.starts_with("sha256:")) d = d.substr(7);
  return d.substr(0, 12);
}

// Names compare as the store does: defaults filled in, case ignored.
bool same_model(const std::string& a, const std::string& b) {
  try {
    return runtime::parse_model_name(a).same_model_as(runtime::parse_model_name(b));
  } catch (const std::exception&) {
    return a == b;
  }
}

int64_t now_unix() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read the Modelfile " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void print(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  if (!text.empty() && text.back() != '\n') std::fputc('\n', stdout);
}

constexpr const char* kServerFooter =
    "Talks to the locus server at LOCUS_HOST (default 127.0.0.1:11434) when one is running, else works on the "
    "model store ($LOCUS_MODELS, default ~/.locus/models; Ollama's models are read, never changed).";

}  // namespace

std::string format_size(uint64_t bytes) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1000 && u < 4) {
    v /= 1000;
    ++u;
  }
  char buf[32];
  if (u == 0 || v >= 10) std::snprintf(buf, sizeof buf, "%d %s", static_cast<int>(v), units[u]);
  else std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

std::string format_ago(int64_t seconds) { return span_words(seconds) + " ago"; }
std::string format_from_now(int64_t seconds) { return span_words(seconds) + " from now"; }

std::string render_list(const json& tags, int64_t now) {
  std::vector<std::vector<std::string>> rows{{"NAME", "ID", "SIZE", "MODIFIED"}};
  for (const auto& m : tags.value("models", json::array())) {
    const auto t = parse_time(str(m, "modified_at"));
    rows.push_back({str(m, "name"), short_id(str(m, "digest")), format_size(u64(m, "size")),
                    t ? format_ago(now - *t) : std::string("unknown")});
  }
  return table(rows);
}

std::string render_ps(const json& ps, int64_t now) {
  std::vector<std::vector<std::string>> rows{{"NAME", "ID", "SIZE", "PROCESSOR", "CONTEXT", "UNTIL"}};
  for (const auto& m : ps.value("models", json::array())) {
    const uint64_t size = u64(m, "size");
    const uint64_t vram = std::min(u64(m, "size_vram"), size);
    std::string processor;
    if (size == 0 || vram == 0) processor = "100% CPU";
    else if (vram == size) processor = "100% GPU";
    else {
      const int gpu = static_cast<int>(vram * 100 / size);
      processor = std::to_string(100 - gpu) + "%/" + std::to_string(gpu) + "% CPU/GPU";
    }
    std::string until;
    const auto t = parse_time(str(m, "expires_at"));
    if (!t) until = "unknown";
    else if (*t - now > int64_t{50} * 365 * 86400) until = "Forever";
    else if (*t <= now) until = "Stopping...";
    else until = format_from_now(*t - now);
    const uint64_t ctx = u64(m, "context_length");
    rows.push_back({str(m, "name"), short_id(str(m, "digest")), format_size(size), processor,
                    ctx > 0 ? std::to_string(ctx) : std::string("-"), until});
  }
  return table(rows);
}

std::string render_show(const json& show) {
  const json details = show.value("details", json::object());
  const json info = show.value("model_info", json::object());
  const std::string arch = info.contains("general.architecture") && info["general.architecture"].is_string()
                               ? info["general.architecture"].get<std::string>()
                               : str(details, "family");
  const auto info_number = [&](const std::string& key) -> std::string {
    const auto it = info.find(arch + "." + key);
    return it != info.end() && it->is_number() ? it->dump() : std::string();
  };
  std::string out = "  Model\n";
  const auto row = [&](const std::string& name, const std::string& value) {
    if (value.empty()) return;
    char buf[64];
    std::snprintf(buf, sizeof buf, "    %-20s", name.c_str());
    out += buf + value + "\n";
  };
  row("architecture", arch);
  row("parameters", str(details, "parameter_size"));
  row("context length", info_number("context_length"));
  row("embedding length", info_number("embedding_length"));
  row("quantization", str(details, "quantization_level"));

  if (const auto caps = show.value("capabilities", json::array()); !caps.empty()) {
    out += "\n  Capabilities\n";
    for (const auto& c : caps) {
      if (c.is_string()) out += "    " + c.get<std::string>() + "\n";
    }
  }
  // The projector, as Ollama's CLI shows it: architecture, parameters, and the vision encoder's embedding
  // length and output width (the audio encoder's for a projector without vision).
  if (const auto proj = show.find("projector_info"); proj != show.end() && proj->is_object() && !proj->empty()) {
    const std::string parch = str(*proj, "general.architecture");
    const auto number = [&](const std::string& key) -> std::string {
      const auto it = proj->find(key);
      return it != proj->end() && it->is_number() ? it->dump() : std::string();
    };
    const std::string modality = proj->contains(parch + ".vision.projection_dim") ? ".vision." : ".audio.";
    out += "\n  Projector\n";
    row("architecture", parch);
    if (const auto n = proj->find("general.parameter_count");
        n != proj->end() && n->is_number_integer() && n->get<int64_t>() >= 0) {
      row("parameters", runtime::format_parameter_count(n->get<uint64_t>()));
    }
    row("embedding length", number(parch + modality + "embedding_length"));
    row("dimensions", number(parch + modality + "projection_dim"));
  }
  // Parameters: each "name value" line, the name in a column.
  const std::string params = str(show, "parameters");
  if (!params.empty()) {
    out += "\n  Parameters\n";
    std::istringstream in(params);
    for (std::string line; std::getline(in, line);) {
      const size_t sp = line.find(' ');
      if (sp == std::string::npos) continue;
      const size_t value_at = line.find_first_not_of(' ', sp);
      row(line.substr(0, sp), value_at == std::string::npos ? std::string() : line.substr(value_at));
    }
  }
  const auto block = [&](const char* title, const std::string& text, size_t max_lines) {
    if (text.empty()) return;
    out += std::string("\n  ") + title + "\n";
    std::istringstream in(text);
    size_t n = 0;
    for (std::string line; std::getline(in, line);) {
      if (n == max_lines) {
        out += "    ...\n";
        break;
      }
      if (line.empty() && n == 0) continue;
      out += "    " + line + "\n";
      ++n;
    }
  };
  block("System", str(show, "system"), 4);
  block("License", str(show, "license"), 2);
  return out;
}

void add_model_commands(CLI::App& app, ModelCommandOptions& o) {
  o.list = app.add_subcommand("list", "list the models in the store (NAME ID SIZE MODIFIED)");
  o.list->alias("ls");
  o.list->footer(kServerFooter);

  o.show = app.add_subcommand("show", "describe a model: architecture, parameters, context, quantization, capabilities, projector");
  o.show->add_option("model", o.model, "model name (gemma4:12b) or GGUF path")->required();
  o.show->add_flag("--modelfile", o.modelfile, "print a Modelfile that recreates the model");
  o.show->add_flag("--parameters", o.parameters, "print the model's stored parameters");
  o.show->add_flag("--template", o.template_text,
                   "print the stored template (informational: locus renders Gemma 4's chat format itself)");
  o.show->add_flag("--system", o.system, "print the system prompt");
  o.show->add_flag("--license", o.license, "print the license");
  o.show->footer(kServerFooter);

  o.ps = app.add_subcommand("ps", "list the models a running server has loaded");
  o.ps->footer("Asks the locus server at LOCUS_HOST (default 127.0.0.1:11434); without a server nothing is loaded.");

  o.cp = app.add_subcommand("cp", "copy a model to a new name");
  o.cp->add_option("source", o.source, "the model to copy")->required();
  o.cp->add_option("destination", o.destination, "the new name")->required();
  o.cp->footer(kServerFooter);

  o.rm = app.add_subcommand("rm", "remove models (blobs no other model uses are deleted)");
  o.rm->add_option("models", o.models, "the models to remove")->required();
  o.rm->footer(kServerFooter);

  o.stop = app.add_subcommand("stop", "unload a running model from the server");
  o.stop->add_option("model", o.model, "the loaded model")->required();
  o.stop->footer("Asks the locus server at LOCUS_HOST (default 127.0.0.1:11434) to unload the model at once.");

  o.create = app.add_subcommand("create", "create a model from a Modelfile");
  o.create->add_option("model", o.model, "name of the new model (replaced when it exists)")->required();
  o.create->add_option("-f,--file", o.file, "the Modelfile (default: ./Modelfile)");
  o.create->add_option("-q,--quantize", o.quantize,
                       "quantize an F32/F16/BF16 model: q4_K_M, q4_K_S, q8_0, q4_0, q5_K_M, q6_K, ...");
  o.create->footer(
      "Modelfile commands: FROM (a GGUF file, relative to the Modelfile, or a model; a second FROM names the "
      "model's projector GGUF, mmproj, stored as its own layer), PARAMETER name value, "
      "SYSTEM, TEMPLATE (stored, informational: locus renders Gemma 4's chat format itself), MESSAGE role text, "
      "LICENSE. ADAPTER is not supported. Values may be \"quoted\" or \"\"\"span lines\"\"\". " +
      std::string(kServerFooter));
}

std::optional<int> run_model_command(const ModelCommandOptions& o) {
  const bool any = o.list->parsed() || o.show->parsed() || o.ps->parsed() || o.cp->parsed() || o.rm->parsed() ||
                   o.stop->parsed() || o.create->parsed();
  if (!any) return std::nullopt;
  const auto client = connect_model_client();

  if (o.list->parsed()) {
    std::fputs(render_list(client->tags(), now_unix()).c_str(), stdout);
    return 0;
  }
  if (o.show->parsed()) {
    const json s = client->show(o.model);
    if (o.modelfile) print(str(s, "modelfile"));
    else if (o.parameters) print(str(s, "parameters"));
    else if (o.template_text) {
      std::fputs("# informational: locus renders Gemma 4's chat format itself and does not run this template\n",
                 stderr);
      print(str(s, "template"));
    } else if (o.system) print(str(s, "system"));
    else if (o.license) print(str(s, "license"));
    else std::fputs(render_show(s).c_str(), stdout);
    return 0;
  }
  if (o.ps->parsed()) {
    const auto ps = client->ps();
    if (!ps) {
      std::fprintf(stderr, "no locus server is running at %s, so no model is loaded (start one with `locus serve`)\n",
                   server_base_url().c_str());
      std::fputs(render_ps(json::object(), now_unix()).c_str(), stdout);
      return 0;
    }
    std::fputs(render_ps(*ps, now_unix()).c_str(), stdout);
    return 0;
  }
  if (o.cp->parsed()) {
    client->copy(o.source, o.destination);
    std::printf("copied '%s' to '%s'\n", o.source.c_str(), o.destination.c_str());
    return 0;
  }
  if (o.rm->parsed()) {
    for (const auto& m : o.models) {
      client->remove(m);
      std::printf("deleted '%s'\n", m.c_str());
    }
    return 0;
  }
  if (o.stop->parsed()) {
    const auto ps = client->ps();
    if (ps) {
      bool loaded = false;
      for (const auto& m : ps->value("models", json::array())) loaded = loaded || same_model(str(m, "name"), o.model);
      if (!loaded) throw std::runtime_error("model \"" + o.model + "\" is not loaded, so there is nothing to stop");
    }
    client->stop(o.model);
    return 0;
  }
  // create
  std::string path = o.file.empty() ? std::string("Modelfile") : o.file;
  std::error_code ec;
  if (o.file.empty() && !std::filesystem::exists(path, ec)) {
    throw std::runtime_error("no Modelfile in this folder: give one with -f FILE");
  }
  const std::string text = read_text_file(path);
  std::filesystem::path base = std::filesystem::absolute(std::filesystem::path(path), ec).parent_path();
  client->create(o.model, text, base, o.quantize.empty() ? std::nullopt : std::optional<std::string>(o.quantize),
                 [](const std::string& status) {
                   std::fprintf(stderr, "%s\n", status.c_str());
                   std::fflush(stderr);
                 });
  return 0;
}

}  // namespace locus::cli
