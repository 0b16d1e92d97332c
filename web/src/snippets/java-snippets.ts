/** Java: with `java.net.http`, and with OkHttp; both share the JSON reader and printers below. */
import { API_KEY_VARIABLE, chatUrl, isStream, type ChatBody, type SnippetRequest } from './snippet-request.js';

/**
 * A Java string literal. Everything outside printable ASCII becomes a \\uXXXX escape, so
 * the source compiles whatever javac's default encoding is; since every backslash is
 * doubled first, no \\u of the user's text can turn into a unicode escape.
 */
function javaString(text: string): string {
  let out = '"';
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    if (char === '"') out += '\\"';
    else if (char === '\\') out += '\\\\';
    else if (char === '\n') out += '\\n';
    else if (char === '\r') out += '\\r';
    else if (char === '\t') out += '\\t';
    else if (code >= 0x20 && code < 0x7f) out += char;
    else {
      // Astral characters are two UTF-16 units, each its own escape.
      for (let i = 0; i < char.length; i++) out += `\\u${char.charCodeAt(i).toString(16).padStart(4, '0')}`;
    }
  }
  return `${out}"`;
}

/** The JSON body as Java string literals joined with +, one per line of pretty JSON. */
function javaJsonBody(body: ChatBody, indent: string): string {
  const lines = JSON.stringify(body, null, 2).split('\n');
  return lines.map((line, i) => `${i === 0 ? '' : `${indent}+ `}${javaString(i < lines.length - 1 ? `${line}\n` : line)}`).join('\n');
}

/**
 * The JDK has no JSON parser: the Java snippets carry a small one (objects, arrays,
 * strings with every escape, numbers, literals), so they run with the JDK alone. In a real
 * project, use Jackson or Gson instead.
 */
const JAVA_JSON_READER = `
    /** A minimal JSON reader (the JDK has none): objects are Maps, arrays Lists. Use Jackson or Gson in real code. */
    static final class Json {
        private final String s;
        private int i;

        private Json(String s) { this.s = s; }

        static Object parse(String text) { Json json = new Json(text); json.space(); return json.value(); }

        @SuppressWarnings("unchecked")
        static Object get(Object node, Object... path) {
            for (Object key : path) {
                if (node instanceof Map) node = ((Map<String, Object>) node).get((String) key);
                else if (node instanceof List && ((List<Object>) node).size() > (Integer) key) node = ((List<Object>) node).get((Integer) key);
                else return null;
            }
            return node;
        }

        private Object value() {
            char c = s.charAt(i);
            Object v;
            if (c == '{') {
                Map<String, Object> map = new LinkedHashMap<>();
                i++; space();
                while (s.charAt(i) != '}') {
                    String key = string(); space(); i++; space();
                    map.put(key, value());
                    if (s.charAt(i) == ',') { i++; space(); }
                }
                i++; v = map;
            } else if (c == '[') {
                List<Object> list = new ArrayList<>();
                i++; space();
                while (s.charAt(i) != ']') {
                    list.add(value());
                    if (s.charAt(i) == ',') { i++; space(); }
                }
                i++; v = list;
            } else if (c == '"') {
                v = string();
            } else if (s.startsWith("true", i)) { i += 4; v = Boolean.TRUE; }
            else if (s.startsWith("false", i)) { i += 5; v = Boolean.FALSE; }
            else if (s.startsWith("null", i)) { i += 4; v = null; }
            else {
                int start = i;
                while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) i++;
                v = Double.parseDouble(s.substring(start, i));
            }
            space();
            return v;
        }

        private String string() {
            StringBuilder out = new StringBuilder();
            i++;
            for (char c = s.charAt(i++); c != '"'; c = s.charAt(i++)) {
                if (c != '\\\\') { out.append(c); continue; }
                char e = s.charAt(i++);
                switch (e) {
                    case 'n': out.append('\\n'); break;
                    case 'r': out.append('\\r'); break;
                    case 't': out.append('\\t'); break;
                    case 'b': out.append('\\b'); break;
                    case 'f': out.append('\\f'); break;
                    case 'u': out.append((char) Integer.parseInt(s.substring(i, i + 4), 16)); i += 4; break;
                    default: out.append(e);
                }
            }
            return out.toString();
        }

        private void space() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) i++;
        }
    }
`;

/** The Java code shared by both clients: what one SSE line or one JSON answer prints. */
const JAVA_PRINTERS = `
    // Print UTF-8 whatever the platform's default charset is.
    static final PrintStream OUT = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
    static boolean reasoned = false;
    static boolean answered = false;

    /** One line of the event stream; returns false at data: [DONE]. */
    static boolean onLine(String line) {
        if (!line.startsWith("data:")) return true;
        String data = line.substring(5).trim();
        if (data.equals("[DONE]")) return false;
        Object chunk = Json.parse(data);
        if (Json.get(chunk, "error") != null) throw new IllegalStateException("stream failed: " + data);
        for (Object choice : (List<?>) Json.get(chunk, "choices")) {
            Object reasoning = Json.get(choice, "delta", "reasoning_content");
            if (reasoning instanceof String && !((String) reasoning).isEmpty()) {
                if (!reasoned) OUT.println("[reasoning]");
                reasoned = true;
                OUT.print(reasoning);
            }
            Object content = Json.get(choice, "delta", "content");
            if (content instanceof String && !((String) content).isEmpty()) {
                if (!answered && reasoned) OUT.print("\\n[answer]\\n");
                answered = true;
                OUT.print(content);
            }
            OUT.flush();
        }
        return true;
    }
`;

const JAVA_IMPORTS = `import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;`;

export function javaHttpSnippet({ baseUrl, body }: SnippetRequest): string {
  const stream = isStream(body);
  const send = stream
    ? `        HttpResponse<Stream<String>> response = client.send(request, HttpResponse.BodyHandlers.ofLines());
        if (response.statusCode() != 200) {
            System.err.println("HTTP " + response.statusCode() + ": " + response.body().collect(Collectors.joining("\\n")));
            System.exit(1);
        }
        // Server-Sent Events, read line by line: "data: <json>" lines, then "data: [DONE]".
        Iterator<String> lines = response.body().iterator();
        while (lines.hasNext() && onLine(lines.next())) { }
        OUT.println();`
    : `        HttpResponse<String> response = client.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        if (response.statusCode() != 200) {
            System.err.println("HTTP " + response.statusCode() + ": " + response.body());
            System.exit(1);
        }
        OUT.println(Json.get(Json.parse(response.body()), "choices", 0, "message", "content"));`;
  return `// Java 11+, the JDK only. Run: java Chat.java
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
${stream ? 'import java.util.Iterator;\nimport java.util.stream.Collectors;\nimport java.util.stream.Stream;\n' : ''}${JAVA_IMPORTS}

public class Chat {
    public static void main(String[] args) throws Exception {
        String body = ${javaJsonBody(body, '            ')};
        HttpRequest request = HttpRequest.newBuilder(URI.create(${javaString(chatUrl(baseUrl))}))
            .header("Authorization", "Bearer " + System.getenv("${API_KEY_VARIABLE}"))
            .header("Content-Type", "application/json")
            .timeout(Duration.ofMinutes(10))
            .POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8))
            .build();
        HttpClient client = HttpClient.newHttpClient();
${send}
    }
${stream ? JAVA_PRINTERS : JAVA_PRINTERS_PLAIN}${JAVA_JSON_READER}}
`;
}

const JAVA_PRINTERS_PLAIN = `
    // Print UTF-8 whatever the platform's default charset is.
    static final PrintStream OUT = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
`;

export function okHttpSnippet({ baseUrl, body }: SnippetRequest): string {
  const stream = isStream(body);
  const read = stream
    ? `            // Server-Sent Events, read line by line: "data: <json>" lines, then "data: [DONE]".
            BufferedSource source = response.body().source();
            String line;
            while ((line = source.readUtf8Line()) != null && onLine(line)) { }
            OUT.println();`
    : `            OUT.println(Json.get(Json.parse(response.body().string()), "choices", 0, "message", "content"));`;
  return `// OkHttp 4 or 5 (com.squareup.okhttp3:okhttp). Run with okhttp and okio on the class path.
import java.time.Duration;
${stream ? 'import okio.BufferedSource;\n' : ''}import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
${JAVA_IMPORTS}

public class ChatOkHttp {
    public static void main(String[] args) throws Exception {
        String body = ${javaJsonBody(body, '            ')};
        Request request = new Request.Builder()
            .url(${javaString(chatUrl(baseUrl))})
            .header("Authorization", "Bearer " + System.getenv("${API_KEY_VARIABLE}"))
            .post(RequestBody.create(body, MediaType.get("application/json; charset=utf-8")))
            .build();
        // OkHttp's default read timeout (10 s) is shorter than a long answer takes.
        OkHttpClient client = new OkHttpClient.Builder().readTimeout(Duration.ofMinutes(10)).build();
        try (Response response = client.newCall(request).execute()) {
            if (response.code() != 200) {
                System.err.println("HTTP " + response.code() + ": " + response.body().string());
                System.exit(1);
            }
${read}
        }
    }
${stream ? JAVA_PRINTERS : JAVA_PRINTERS_PLAIN}${JAVA_JSON_READER}}
`;
}
