import Foundation
import TestSupport
import Testing
import Tokenization

struct ChatFormatTests {
    struct Render {
        var template: String
        var messages: [ChatMessage]
        var addGenerationPrompt: Bool
        var rendered: String
    }

    /// Fixtures/chat_templates.json: SmolLM2's and Llama 3's templates rendered by Jinja2.
    static func fixtures() throws -> (templates: [String: String], renders: [Render]) {
        let root = try TestData.json(TestData.fixtureDirectory.appendingPathComponent("chat_templates.json"))
        let templates = try #require(root["templates"] as? [String: String])
        let renders = try #require(root["renders"] as? [[String: Any]]).map { item in
            Render(template: try #require(item["template"] as? String),
                   messages: try #require(item["messages"] as? [[String: String]]).map {
                       ChatMessage(role: $0["role"] ?? "", content: $0["content"] ?? "")
                   },
                   addGenerationPrompt: try #require(item["add_generation_prompt"] as? Bool),
                   rendered: try #require(item["rendered"] as? String))
        }
        return (templates, renders)
    }

    static let question = [ChatMessage(role: "user", content: "What is the capital of France?")]

    @Test func chatMLMatchesTheGoldenPrompt() throws {
        let golden = try TestData.json(TestPaths.fixtures.appendingPathComponent("golden/pub_chat_capital.json"))
        let text = try #require(golden["text"] as? String)
        #expect(ChatFormat.chatML.render(Self.question, addGenerationPrompt: true) == text)
        #expect(text == "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n")
    }

    @Test(.enabled(if: TestData.hasSmolLM, "needs SmolLM2's tokenizer.json"))
    func chatMLEncodesToTheGoldenIds() throws {
        let golden = try TestData.json(TestPaths.fixtures.appendingPathComponent("golden/pub_chat_capital.json"))
        let ids = try #require(golden["ids"] as? [Int]).map(Int32.init)
        let prompt = ChatFormat.chatML.render(Self.question, addGenerationPrompt: true)
        #expect(TestData.smol.encode(prompt) == ids)
    }

    /// The template of the converted HF directory plus our tokenizer give exactly the ids of
    /// transformers' apply_chat_template (Tests/Fixtures/smollm2/chat_ids.json, scripts/gen-chat-fixtures.py).
    @Test(.enabled(if: TestData.hasSmolLM, "needs SmolLM2's tokenizer.json"))
    func smolLMConversationsEncodeToTransformersIds() throws {
        let config = try TestData.json(TestData.smolTokenizerConfig)
        let template = try #require(config["chat_template"] as? String)
        let format = try #require(ChatFormat.detect(fromTemplate: template))
        let system = ChatFormat.defaultSystemPrompt(fromTemplate: template)
        let cases = try #require(try TestData.json(TestPaths.fixtures.appendingPathComponent("chat_ids.json"))["cases"]
            as? [[String: Any]])
        for c in cases {
            let messages = (c["messages"] as! [[String: String]]).map { ChatMessage(role: $0["role"]!, content: $0["content"]!) }
            let text = format.render(messages, addGenerationPrompt: true, defaultSystemPrompt: system)
            #expect(text == c["text"] as? String, "\(c["name"]!)")
            #expect(TestData.smol.encode(text) == (c["ids"] as! [Int]).map(Int32.init), "\(c["name"]!)")
        }
    }

    @Test func templatesRenderAsJinjaDoes() throws {
        let (templates, renders) = try Self.fixtures()
        #expect(renders.count == 12)
        for render in renders {
            let template = try #require(templates[render.template])
            let format = try #require(ChatFormat.detect(fromTemplate: template))
            let system = ChatFormat.defaultSystemPrompt(fromTemplate: template)
            var expected = render.rendered
            if format == .llama3 {
                // The Llama 3 template starts with bos_token; our string leaves BOS to the caller.
                #expect(expected.hasPrefix("<|begin_of_text|>"))
                expected.removeFirst("<|begin_of_text|>".count)
            }
            let mine = format.render(render.messages, addGenerationPrompt: render.addGenerationPrompt,
                                     defaultSystemPrompt: system)
            #expect(mine == expected, "\(render.template): \(render.messages)")
        }
    }

    @Test func smolLMTemplateDefaultSystemPrompt() throws {
        let (templates, _) = try Self.fixtures()
        let smol = try #require(templates["smollm2"])
        #expect(ChatFormat.defaultSystemPrompt(fromTemplate: smol)
                == "You are a helpful AI assistant named SmolLM, trained by Hugging Face")
        // The same template with Jinja's "\n" escapes instead of real newlines.
        let escaped = smol.replacingOccurrences(of: "\n", with: "\\n")
        #expect(ChatFormat.defaultSystemPrompt(fromTemplate: escaped)
                == "You are a helpful AI assistant named SmolLM, trained by Hugging Face")
        #expect(ChatFormat.defaultSystemPrompt(fromTemplate: templates["llama3"]) == nil)
        // A computed system block (Llama 3.1 style) is not a literal.
        let computed = #"{{- "<|start_header_id|>system<|end_header_id|>\n\n" }}{{- "Today Date: " + date_string }}<|eot_id|>"#
        #expect(ChatFormat.defaultSystemPrompt(fromTemplate: computed) == nil)
        #expect(ChatFormat.defaultSystemPrompt(fromTemplate: nil) == nil)
        // A system message given by the caller replaces the default.
        let withSystem = [ChatMessage(role: "system", content: "S")] + Self.question
        #expect(ChatFormat.chatML.render(withSystem, addGenerationPrompt: false, defaultSystemPrompt: "D")
                == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nWhat is the capital of France?<|im_end|>\n")
    }

    @Test func llama3ExactString() {
        let messages = [ChatMessage(role: "system", content: "Be brief."),
                        ChatMessage(role: "user", content: "  Hi!\n")]
        #expect(ChatFormat.llama3.render(messages, addGenerationPrompt: true)
                == "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n")
        #expect(ChatFormat.llama3.render(messages, addGenerationPrompt: false).hasSuffix("Hi!<|eot_id|>"))
        #expect(ChatFormat.chatML.render([], addGenerationPrompt: true) == "<|im_start|>assistant\n")
    }

    @Test func detection() throws {
        let (templates, _) = try Self.fixtures()
        #expect(ChatFormat.detect(fromTemplate: templates["smollm2"]) == .chatML)
        #expect(ChatFormat.detect(fromTemplate: templates["llama3"]) == .llama3)
        #expect(ChatFormat.detect(fromTemplate: nil) == nil)
        #expect(ChatFormat.detect(fromTemplate: "") == nil)
        #expect(ChatFormat.detect(fromTemplate: "{% for m in messages %}[INST] {{ m.content }} [/INST]{% endfor %}") == nil)
        #expect(ChatFormat.detect(fromTemplate: "<|im_start|><|start_header_id|>") == nil)
    }

    @Test func messagesAreCodable() throws {
        let message = ChatMessage(role: "user", content: "hi")
        let data = try JSONEncoder().encode(message)
        #expect(try JSONDecoder().decode(ChatMessage.self, from: data) == message)
    }
}
