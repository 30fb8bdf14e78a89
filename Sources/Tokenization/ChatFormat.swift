import Foundation

/// One turn of a conversation.
public struct ChatMessage: Sendable, Equatable, Codable {
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

/// The chat formats we can render without a Jinja engine. A model's template (GGUF
/// `tokenizer.chat_template`, tokenizer_config.json `chat_template`) is only inspected to pick one.
///
/// The rendered string contains special-token text (`<|im_start|>`), so encode it with
/// `allowSpecial: true`, and encode user-supplied content separately with `allowSpecial: false` if it
/// must not be able to forge turns.
public enum ChatFormat: String, Sendable {
    /// `<|im_start|>{role}\n{content}<|im_end|>\n` per message (SmolLM2, Qwen, …).
    case chatML
    /// `<|start_header_id|>{role}<|end_header_id|>\n\n{content}<|eot_id|>` per message (Llama 3.x).
    case llama3

    /// Picks the format from a template's markers: `<|im_start|>` → ChatML, `<|start_header_id|>` →
    /// Llama 3. Nil when the template is missing, has neither marker, or has both; the caller should
    /// then fail with a message naming the model, not guess.
    public static func detect(fromTemplate template: String?) -> ChatFormat? {
        guard let template else { return nil }
        switch (template.contains("<|im_start|>"), template.contains("<|start_header_id|>")) {
        case (true, false): return .chatML
        case (false, true): return .llama3
        default: return nil
        }
    }

    /// The default system prompt a template inserts when the conversation does not start with a system
    /// message, if it is a literal in the template text. SmolLM2's template, for example, contains
    /// `{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}`
    /// under `{% if loop.first and messages[0]['role'] != 'system' %}`. The newline may be a real one or a
    /// Jinja `\n` escape. A system block built from variables (Llama 3.1's dated prompt) gives nil.
    public static func defaultSystemPrompt(fromTemplate template: String?) -> String? {
        guard let template, let format = detect(fromTemplate: template) else { return nil }
        let (opening, closing): (String, String)
        switch format {
        case .chatML: (opening, closing) = ("<|im_start|>system", "<|im_end|>")
        case .llama3: (opening, closing) = ("<|start_header_id|>system<|end_header_id|>", "<|eot_id|>")
        }
        let newlineCount = format == .chatML ? 1 : 2
        var searchFrom = template.startIndex
        while let header = template.range(of: opening, range: searchFrom..<template.endIndex) {
            searchFrom = header.upperBound
            // The header's newlines, written either literally or as the escape `\n`.
            var cursor = header.upperBound
            var newlines = 0
            while newlines < newlineCount {
                if template[cursor...].hasPrefix("\n") {
                    cursor = template.index(after: cursor)
                } else if template[cursor...].hasPrefix("\\n") {
                    cursor = template.index(cursor, offsetBy: 2)
                } else {
                    break
                }
                newlines += 1
            }
            guard newlines == newlineCount,
                  let end = template.range(of: closing, range: cursor..<template.endIndex) else { continue }
            let literal = template[cursor..<end.lowerBound]
            // Only a plain literal: quotes or Jinja delimiters mean the prompt is computed.
            guard !literal.isEmpty, !literal.contains(where: { "'\"{}".contains($0) }) else { continue }
            return literal.replacingOccurrences(of: "\\n", with: "\n")
        }
        return nil
    }

    /// Renders `messages` as the model's template does, without a default system prompt (see the
    /// overload). With `addGenerationPrompt`, ends with the opening of an assistant turn.
    ///
    /// Llama 3: the string does NOT start with `<|begin_of_text|>`. The official template puts
    /// `bos_token` first; here BOS is left to the caller, who prepends `bosTokenId` when the tokenizer's
    /// `addBOS` is set (it is for Llama 3), so BOS is never doubled. Like the official template, message
    /// content is trimmed of surrounding whitespace. Llama 3.1's date/tool system preamble is not added.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool) -> String {
        render(messages, addGenerationPrompt: addGenerationPrompt, defaultSystemPrompt: nil)
    }

    /// Renders `messages`, first inserting a system message with `defaultSystemPrompt` when it is given
    /// and the conversation does not already start with a system message: what templates such as
    /// SmolLM2's do. Get the prompt from the template with `defaultSystemPrompt(fromTemplate:)`.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool, defaultSystemPrompt: String?) -> String {
        var turns = messages
        if let defaultSystemPrompt, turns.first?.role != "system" {
            turns.insert(ChatMessage(role: "system", content: defaultSystemPrompt), at: 0)
        }
        var text = ""
        switch self {
        case .chatML:
            for message in turns {
                text += "<|im_start|>\(message.role)\n\(message.content)<|im_end|>\n"
            }
            if addGenerationPrompt { text += "<|im_start|>assistant\n" }
        case .llama3:
            for message in turns {
                let content = message.content.trimmingCharacters(in: .whitespacesAndNewlines)
                text += "<|start_header_id|>\(message.role)<|end_header_id|>\n\n\(content)<|eot_id|>"
            }
            if addGenerationPrompt { text += "<|start_header_id|>assistant<|end_header_id|>\n\n" }
        }
        return text
    }
}
