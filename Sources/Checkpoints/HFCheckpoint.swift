import Foundation

/// A Hugging Face model directory: `config.json`, one or more `*.safetensors` (listed by
/// `model.safetensors.index.json` when present, else every `*.safetensors` in the directory), `tokenizer.json`
/// and optionally `tokenizer_config.json` / `chat_template.jinja`.
///
/// Tensors are zero-copy views of the mapped files (see `SafetensorsFile.tensor(named:)`).
public final class HFCheckpoint: Checkpoint {
    public let url: URL
    public let config: ModelConfig
    public let tensorNames: [String]
    public let tokenizerSource: TokenizerSource
    public let chatTemplate: String?
    /// The weight files, sorted by name.
    public let files: [SafetensorsFile]
    /// HF name → (index into `files`, entry).
    private let entries: [String: (file: Int, info: SafetensorsFile.TensorInfo)]

    public var format: String { "safetensors" }

    public init(directory: URL) throws {
        url = directory
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: directory.path, isDirectory: &isDirectory) else {
            throw CheckpointError.fileNotFound(file: directory.path)
        }
        guard isDirectory.boolValue else { throw CheckpointError.unrecognizedFormat(file: directory.path) }
        config = try ModelConfig(hfConfig: JSONObject(contentsOf: directory.appendingPathComponent("config.json")))

        var files: [SafetensorsFile] = []
        var entries: [String: (file: Int, info: SafetensorsFile.TensorInfo)] = [:]
        for (index, weightURL) in try Self.weightFiles(in: directory).enumerated() {
            let st = try SafetensorsFile(url: weightURL)
            for (name, info) in st.tensors {
                guard entries.updateValue((index, info), forKey: name) == nil else {
                    throw CheckpointError.duplicateName(file: weightURL.path, name: name)
                }
            }
            files.append(st)
        }
        try LlamaLayout.validate(shapes: entries.mapValues(\.info.shape), config: config, file: directory.path)
        self.files = files
        self.entries = entries
        tensorNames = entries.keys.sorted()

        let tokenizerConfig = directory.appendingPathComponent("tokenizer_config.json")
        let hasTokenizerConfig = fm.fileExists(atPath: tokenizerConfig.path)
        tokenizerSource = .tokenizerJSON(directory.appendingPathComponent("tokenizer.json"),
                                         config: hasTokenizerConfig ? tokenizerConfig : nil)
        var template: String?
        if hasTokenizerConfig { template = try Self.chatTemplate(in: JSONObject(contentsOf: tokenizerConfig)) }
        let jinja = directory.appendingPathComponent("chat_template.jinja")
        if template == nil, fm.fileExists(atPath: jinja.path) {
            guard let text = try? String(contentsOf: jinja, encoding: .utf8) else {
                throw CheckpointError.invalidValue(file: jinja.path, offset: nil, context: "chat template", found: "not UTF-8 text")
            }
            template = text
        }
        chatTemplate = template
    }

    public func tensor(named name: String) throws -> WeightTensor {
        guard let (index, _) = entries[name] else { throw CheckpointError.missingTensor(file: url.path, name: name) }
        return try files[index].tensor(named: name)
    }

    public func tensorLayout(named name: String) throws -> TensorLayout {
        guard let (_, info) = entries[name] else { throw CheckpointError.missingTensor(file: url.path, name: name) }
        return TensorLayout(type: info.type, shape: info.shape)
    }

    /// The shard list: the distinct files of `model.safetensors.index.json`'s `weight_map`, else every
    /// `*.safetensors` in the directory; sorted. None at all → `fileNotFound` for `model.safetensors`.
    private static func weightFiles(in directory: URL) throws -> [URL] {
        let index = directory.appendingPathComponent("model.safetensors.index.json")
        if FileManager.default.fileExists(atPath: index.path) {
            let json = try JSONObject(contentsOf: index)
            guard let map = try json.object("weight_map") else { throw json.missing("weight_map") }
            var names = Set<String>()
            for (tensor, value) in map.values {
                guard let file = value as? String, !file.isEmpty, !file.contains("/"), file != ".." else {
                    throw CheckpointError.invalidKey(file: index.path, key: "weight_map.\(tensor)",
                                                     expected: "a file name in the directory", found: "\(value)")
                }
                names.insert(file)
            }
            return names.sorted().map { directory.appendingPathComponent($0) }
        }
        let contents: [String]
        do {
            contents = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw CheckpointError.ioError(file: directory.path, operation: "listing the directory", errno: EIO)
        }
        let shards = contents.filter { $0.hasSuffix(".safetensors") }.sorted()
        guard !shards.isEmpty else {
            throw CheckpointError.fileNotFound(file: directory.appendingPathComponent("model.safetensors").path)
        }
        return shards.map { directory.appendingPathComponent($0) }
    }

    /// `chat_template` is a string, or (older multi-template configs) a list of `{name, template}` objects of
    /// which we take "default", else the first.
    private static func chatTemplate(in json: JSONObject) throws -> String? {
        guard let value = json.raw("chat_template") else { return nil }
        if let s = value as? String { return s }
        if let list = value as? [[String: Any]] {
            let chosen = list.first { ($0["name"] as? String) == "default" } ?? list.first
            if let t = chosen?["template"] as? String { return t }
        }
        throw CheckpointError.invalidKey(file: json.file, key: "chat_template", expected: "a string", found: "\(value)")
    }
}
