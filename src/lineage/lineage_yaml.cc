// Parses lineage.yaml with yaml-cpp into per-model declarations and line-numbered problems.
#include "lineage/lineage_yaml.h"

#include <yaml-cpp/yaml.h>

namespace lathe::lineage {
namespace {

constexpr std::size_t kMaxEntries = 10000;
constexpr std::size_t kMaxDepth = 32;

// The text with each byte that is not part of valid UTF-8 replaced by U+FFFD: the file is the
// user's, and what we keep of it goes into JSON.
std::string Utf8(std::string_view in) {
    std::string out;
    out.reserve(in.size());
    std::size_t i = 0;
    while (i < in.size()) {
        const auto c = static_cast<unsigned char>(in[i]);
        std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
        bool ok = n > 0 && i + n <= in.size();
        for (std::size_t k = 1; ok && k < n; ++k) {
            ok = (static_cast<unsigned char>(in[i + k]) >> 6) == 0x2;
        }
        if (ok && n == 2) {
            ok = c >= 0xC2;  // no overlong forms
        } else if (ok && n == 3) {
            const auto c1 = static_cast<unsigned char>(in[i + 1]);
            ok = !(c == 0xE0 && c1 < 0xA0) && !(c == 0xED && c1 >= 0xA0);  // overlong, surrogates
        } else if (ok && n == 4) {
            const auto c1 = static_cast<unsigned char>(in[i + 1]);
            ok = c <= 0xF4 && !(c == 0xF0 && c1 < 0x90) && !(c == 0xF4 && c1 >= 0x90);
        }
        if (ok) {
            out.append(in.substr(i, n));
            i += n;
        } else {
            out += "\xEF\xBF\xBD";
            ++i;
        }
    }
    return out;
}

std::string At(const YAML::Mark& mark) {
    if (mark.is_null()) {
        return "lineage.yaml";
    }
    return "lineage.yaml:" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

std::string KindOf(const YAML::Node& n) {
    switch (n.Type()) {
        case YAML::NodeType::Map: return "a mapping";
        case YAML::NodeType::Sequence: return "a list";
        case YAML::NodeType::Scalar: return "a scalar";
        case YAML::NodeType::Null: return "empty";
        default: return "undefined";
    }
}

nlohmann::json ToJson(const YAML::Node& n, std::size_t depth) {
    if (depth > kMaxDepth) {
        return nullptr;
    }
    switch (n.Type()) {
        case YAML::NodeType::Map: {
            auto out = nlohmann::json::object();
            for (const auto& kv : n) {
                out[Utf8(kv.first.Scalar())] = ToJson(kv.second, depth + 1);
            }
            return out;
        }
        case YAML::NodeType::Sequence: {
            auto out = nlohmann::json::array();
            for (const auto& item : n) {
                out.push_back(ToJson(item, depth + 1));
            }
            return out;
        }
        case YAML::NodeType::Scalar: return Utf8(n.Scalar());
        default: return nullptr;
    }
}

// A list of strings, or one string; problems for anything else.
std::vector<std::string> Strings(const YAML::Node& n, const std::string& what,
                                 std::vector<std::string>& problems) {
    std::vector<std::string> out;
    if (n.IsScalar()) {
        out.push_back(Utf8(n.Scalar()));
    } else if (n.IsSequence()) {
        for (const auto& item : n) {
            if (item.IsScalar() && !item.Scalar().empty()) {
                out.push_back(Utf8(item.Scalar()));
            } else {
                problems.push_back(At(item.Mark()) + ": each of " + what +
                                   " must be a non-empty string, not " + KindOf(item));
            }
        }
    } else if (!n.IsNull()) {
        problems.push_back(At(n.Mark()) + ": " + what + " must be a list of strings, not " +
                           KindOf(n));
    }
    return out;
}

}  // namespace

LineageFile ParseLineageYaml(std::string_view text) {
    LineageFile file;
    if (text.size() > kMaxLineageYamlBytes) {
        file.problems.push_back("lineage.yaml: the file is " + std::to_string(text.size()) +
                                " bytes; at most " + std::to_string(kMaxLineageYamlBytes) +
                                " are read");
        return file;
    }
    YAML::Node root;
    try {
        root = YAML::Load(std::string(text));
    } catch (const YAML::Exception& e) {
        file.problems.push_back(At(e.mark) + ": " + Utf8(e.msg));
        return file;
    }
    try {
        if (root.IsNull()) {
            return file;
        }
        if (!root.IsMap()) {
            file.problems.push_back(At(root.Mark()) +
                                    ": the file must map model names to their lineage, not be " +
                                    KindOf(root));
            return file;
        }
        for (const auto& entry : root) {
            if (file.models.size() >= kMaxEntries) {
                file.problems.push_back(At(entry.first.Mark()) + ": more than " +
                                        std::to_string(kMaxEntries) + " models; the rest ignored");
                break;
            }
            if (!entry.first.IsScalar() || entry.first.Scalar().empty()) {
                file.problems.push_back(At(entry.first.Mark()) +
                                        ": a model name must be a non-empty string");
                continue;
            }
            const std::string name = Utf8(entry.first.Scalar());
            const YAML::Node& body = entry.second;
            if (!body.IsMap()) {
                file.problems.push_back(At(body.Mark()) + ": \"" + name +
                                        "\" must be a mapping (hive_table_qualified_names, "
                                        "datasets, metadata), not " +
                                        KindOf(body));
                continue;
            }
            ModelDeclaration d;
            for (const auto& field : body) {
                const std::string key = field.first.IsScalar() ? Utf8(field.first.Scalar()) : "";
                if (key == "hive_table_qualified_names") {
                    d.hive_tables = Strings(field.second, key, file.problems);
                } else if (key == "datasets") {
                    d.datasets = Strings(field.second, key, file.problems);
                } else if (key == "metadata") {
                    if (field.second.IsMap()) {
                        d.metadata = ToJson(field.second, 0);
                    } else if (!field.second.IsNull()) {
                        file.problems.push_back(At(field.second.Mark()) +
                                                ": metadata must be a mapping, not " +
                                                KindOf(field.second));
                    }
                } else {
                    file.problems.push_back(At(field.first.Mark()) + ": unknown key \"" + key +
                                            "\" in \"" + name +
                                            "\" (known: hive_table_qualified_names, datasets, "
                                            "metadata); ignored");
                }
            }
            file.models[name] = std::move(d);
        }
    } catch (const YAML::Exception& e) {
        file.problems.push_back(At(e.mark) + ": " + Utf8(e.msg));
    }
    return file;
}

std::string ValidUtf8(std::string_view text) { return Utf8(text); }

nlohmann::json DeclarationJson(const ModelDeclaration& d) {
    return {{"hive_table_qualified_names", d.hive_tables},
            {"datasets", d.datasets},
            {"metadata", d.metadata}};
}

}  // namespace lathe::lineage
