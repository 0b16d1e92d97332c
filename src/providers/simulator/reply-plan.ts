/**
 * Writes one choice's reply before any of it is streamed: the reasoning (thinking models),
 * the content, or a tool call. Replies are English, refer to the user's last message,
 * and always say plainly that they are simulated (DESIGN.md, "The simulator").
 * Like Kimi's replies in the seed, reasoning and content start with a space.
 */
import type { ConversationFacts, ToolToCall } from './conversation-facts.js';
import { sampleFromSchema } from './schema-sample.js';
import type { SeededRandom } from './seeded-random.js';
import { quoteText, type MessageKind, type UserWords } from './user-words.js';

/**
 * In every text reply's content (in JSON mode, inside `"answer"`, beside `"simulated": true`).
 * A tool call has no content; its reasoning, for thinking models, says it is simulated.
 */
export const SIMULATION_NOTICE = "(simulated reply from moongate's built-in simulator)";

export interface PlannedToolCall {
  id: string;
  name: string;
  /** A JSON object satisfying the tool's `parameters` schema. */
  arguments: string;
}

export interface ReplyPlan {
  /** Empty for models that do not think. */
  reasoning: string;
  /** Empty when the reply is a tool call. */
  content: string;
  toolCall: PlannedToolCall | undefined;
}

type Phrase = (u: UserWords) => string;

const SENTENCE_END = /[.!?。！？…]$/u;

/** `“quote”` followed by a full stop unless the quote already ends a sentence. */
function quoted(text: string, after = '.'): string {
  return `“${text}”${SENTENCE_END.test(text) && after === '.' ? '' : after}`;
}

const OPENERS: Record<MessageKind, Phrase[]> = {
  greeting: [
    (u) => `Hello! Thanks for writing ${quoted(u.quote)}`,
    (u) => `Hi there! You said ${quoted(u.quote)}`,
    (u) => `Hello, and welcome. Your message was ${quoted(u.quote)}`,
    (u) => `Hey! I received your ${quoted(u.quote)}`,
  ],
  question: [
    (u) => `You asked: ${quoted(u.quote)}`,
    (u) => `Good question: ${quoted(u.quote)}`,
    (u) => `You would like to know: ${quoted(u.quote)}`,
    (u) => `Your question was ${quoted(u.quote)}`,
  ],
  request: [
    (u) => `You asked me to do this: ${quoted(u.quote)}`,
    (u) => `Here is my reply to your request, ${quoted(u.quote)}`,
    (u) => `Request received: ${quoted(u.quote)}`,
    (u) => `You wrote ${quoted(u.quote)}, which is a request I can only acknowledge.`,
  ],
  code: [
    (u) => `You shared some code that starts with ${quoted(u.quote)}`,
    (u) => `I can see code here, beginning ${quoted(u.quote)}`,
    (u) => `Thanks for the snippet, ${quoted(u.quote)}`,
  ],
  statement: [
    (u) => `You wrote: ${quoted(u.quote)}`,
    (u) => `Thanks for your message, ${quoted(u.quote)}`,
    (u) => `I read your message: ${quoted(u.quote)}`,
    (u) => `Noted: ${quoted(u.quote)}`,
  ],
};

const KIND_REMARKS: Record<MessageKind, string[]> = {
  greeting: ['It is nice to hear from you, even in a simulation.', 'A greeting is a fine way to check that everything is wired up.'],
  question: [
    'A real model would now answer the question itself; the simulator can only acknowledge it.',
    'The answer to that question has to come from a real model, which this is not.',
  ],
  request: [
    'A real model would now carry out the request; the simulator only shows the shape of a reply.',
    'Carrying out that request needs a real model, so this reply stops at acknowledging it.',
  ],
  code: [
    'A real model would now read the code closely; the simulator only confirms that it arrived.',
    'Reviewing that code needs a real model; here you only get confirmation that it was received.',
  ],
  statement: [
    'A real model would now respond to what you said; the simulator keeps it brief.',
    'There is no real model behind this reply, so it only echoes what you said.',
  ],
};

const BODY = [
  'No language model was consulted: moongate wrote this text locally, so the API works without any upstream.',
  "Once an operator configures an upstream, such as Moonshot's API, a real Kimi model answers here instead.",
  'The text streams as real o200k tokens, so usage, billing and rate limits behave as they would in production.',
  'Parameters such as max_tokens, stop, n and response_format are honoured, which makes the simulator handy for tests.',
  'For a real answer, ask the operator to set MOONSHOT_API_KEY or to add an OpenAI-compatible channel.',
  'Time to first token and tokens per second are settings, so the pace of this reply is deliberate.',
  'Every choice gets its own wording, and the same seed always produces the same text.',
];

const LIST_ITEMS = [
  'the reply has the same shape as a real one',
  'token counts are real o200k counts',
  'finish reasons follow max_tokens, stop strings and tool calls',
  'the same seed gives the same reply',
  'streaming and non-streaming replies agree',
];

const CLOSINGS = [
  'Is there anything else you would like to try?',
  'Feel free to send another message.',
  'Let me know what you would like to test next.',
  'I hope this helps you check your integration.',
];

const REASONING_OPENERS: Phrase[] = [
  (u) => `The user has written ${quoted(u.quote)}`,
  (u) => `The user says ${quoted(u.quote)}`,
  (u) => `The latest message reads ${quoted(u.quote)}`,
  (u) => `The user's message is ${quoted(u.quote)}`,
];

const REASONING_KINDS: Record<MessageKind, string[]> = {
  greeting: ['This is a simple greeting.', 'It is a friendly greeting, with no specific task yet.'],
  question: ['This is a question, and they expect a direct answer.', 'They are asking something and want an answer.'],
  request: ['This is a request for me to do something.', 'They want me to carry out a task.'],
  code: ['They have shared code, so they probably want it reviewed or explained.'],
  statement: ['It is a statement rather than a question.', 'There is no explicit question here.'],
};

const REASONING_SIMULATION = [
  "I am moongate's built-in simulator, not a real model, so I cannot truly answer; I should say so plainly.",
  'Since this is a simulation, the honest thing is to acknowledge the message and explain what the simulator does.',
  'No real model is behind this endpoint right now, so the reply must make clear that it is simulated.',
];

const REASONING_KEEP = [
  'clear that it is a simulation',
  'short and easy to read',
  'connected to what they wrote',
  'friendly but direct',
  'honest about what I cannot do',
  'useful for testing the API',
];

const REASONING_FINALS = [
  "I'll acknowledge their message, state that the reply is simulated, and add a few useful notes.",
  "I'll quote their words back, label the reply as simulated, and keep the rest brief.",
  'Let me write a short, friendly reply that is plainly marked as simulated.',
];

const PARTIAL_CONTINUATIONS = [
  'and this is where the simulated continuation of your prefix begins.',
  'continuing from the prefix you supplied, without repeating it.',
  'and the rest of this text carries on from your prefix.',
];

export function planReply(facts: ConversationFacts, random: SeededRandom): ReplyPlan {
  const u = facts.user;
  if (facts.toolToCall !== undefined) return planToolCall(facts, facts.toolToCall, random);
  if (facts.partialPrefix !== undefined) {
    // The prefix is already the start of the answer: no reasoning, straight to content.
    const separator = facts.partialPrefix === '' || /\s$/u.test(facts.partialPrefix) ? '' : ' ';
    const content = `${separator}${random.pick(PARTIAL_CONTINUATIONS)} ${SIMULATION_NOTICE} ${random.pick(BODY)}`;
    return { reasoning: '', content, toolCall: undefined };
  }
  if (facts.toolResults.length > 0) return planAfterTools(facts, random);

  const reasoning = facts.thinking ? writeReasoning(u, random, facts.jsonMode) : '';
  let content = facts.jsonMode ? writeJsonAnswer(facts, random) : writeAnswer(u, random);
  // Said without a random draw, so a reply to the same text without media is unchanged.
  if (!facts.jsonMode) content += mediaRemark(facts.media);
  return { reasoning, content, toolCall: undefined };
}

function countOf(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** What the simulator says about attached images and videos: that it received them and did not look. */
function mediaRemark({ images, videos }: ConversationFacts['media']): string {
  const attached = [images > 0 ? countOf(images, 'image') : '', videos > 0 ? countOf(videos, 'video') : ''].filter((s) => s !== '');
  if (attached.length === 0) return '';
  return `\n\nYou attached ${attached.join(' and ')}; the simulator received ${images + videos === 1 ? 'it' : 'them'} but cannot see, so nothing above describes ${images + videos === 1 ? 'it' : 'them'}.`;
}

function writeReasoning(u: UserWords, random: SeededRandom, jsonMode: boolean): string {
  const parts = [random.pick(REASONING_OPENERS)(u), random.pick(REASONING_KINDS[u.kind])];
  if (u.keyword !== undefined && random.chance(0.6)) parts.push(`The key word seems to be ${quoted(u.keyword)}`);
  parts.push(random.pick(REASONING_SIMULATION));
  if (jsonMode) parts.push('The response format is a JSON object, so the whole answer must be one valid object with an "answer" field.');
  const keep = random.sample(REASONING_KEEP, random.int(2, 4));
  const list = `I should keep it:\n${keep.map((k) => `- ${k[0]?.toUpperCase() ?? ''}${k.slice(1)}`).join('\n')}`;
  return ` ${parts.join(' ')}\n\n${list}\n\n${random.pick(REASONING_FINALS)} `;
}

function writeAnswer(u: UserWords, random: SeededRandom): string {
  const body = random.sample(BODY, random.int(1, 3));
  body.splice(random.int(0, body.length), 0, random.pick(KIND_REMARKS[u.kind]));
  if (u.keyword !== undefined && random.chance(0.5)) {
    body.push(`Your word ${quoted(u.keyword, '')} was noted, though nothing here depends on understanding it.`);
  }
  let text = ` ${random.pick(OPENERS[u.kind])(u)} ${SIMULATION_NOTICE} ${body.join(' ')}`;
  if (random.chance(0.35)) {
    const items = random.sample(LIST_ITEMS, random.int(2, 3));
    text += `\n\nWhat you can rely on:\n${items.map((i) => `- ${i}`).join('\n')}\n\n${random.pick(CLOSINGS)}`;
  } else text += ` ${random.pick(CLOSINGS)}`;
  return text;
}

function writeJsonAnswer(facts: ConversationFacts, random: SeededRandom): string {
  const u = facts.user;
  const answer = `${random.pick(OPENERS[u.kind])(u)} ${SIMULATION_NOTICE} ${random.pick(KIND_REMARKS[u.kind])} ${random.pick(BODY)}`;
  const value: Record<string, unknown> = { simulated: true, model: facts.modelId, answer };
  if (u.keyword !== undefined) value.topic = u.keyword;
  return random.chance(0.5) ? JSON.stringify(value) : JSON.stringify(value, null, 2);
}

function planToolCall(facts: ConversationFacts, tool: ToolToCall, random: SeededRandom): ReplyPlan {
  const u = facts.user;
  const parameters = tool.parameters.type === undefined ? { type: 'object', ...tool.parameters } : tool.parameters;
  const hints: { phrase?: string; word?: string } = {};
  if (u.quote !== 'your message') hints.phrase = u.quote.replace(/…$/u, '');
  const word = u.properNoun ?? u.keyword;
  if (word !== undefined) hints.word = word;
  let args = sampleFromSchema(parameters, { random, hints });
  // Function arguments are always a JSON object on the wire (OpenAI's tool-call format).
  if (args === null || typeof args !== 'object' || Array.isArray(args)) args = {};
  const toolCall: PlannedToolCall = { id: `call_${random.alphanumeric(24)}`, name: tool.name, arguments: JSON.stringify(args) };

  let reasoning = '';
  if (facts.thinking) {
    const why = tool.forced
      ? `The request requires the tool \`${tool.name}\`.`
      : tool.description !== undefined && tool.description.trim() !== ''
        ? `The tool \`${tool.name}\` is described as ${quoted(quoteText(tool.description, 20, 100))} That fits this request best.`
        : `The tool \`${tool.name}\` looks like the best match for it.`;
    const required = Array.isArray(parameters.required) ? parameters.required.filter((r): r is string => typeof r === 'string') : [];
    const fill = required.length > 0 ? `, filling in ${required.map((r) => `\`${r}\``).join(', ')}` : '';
    reasoning =
      ` ${random.pick(REASONING_OPENERS)(u)} ${why} I'll call it with arguments that satisfy its schema${fill}.` +
      ` As moongate's built-in simulator, I sample those arguments rather than derive them. `;
  }
  return { reasoning, content: '', toolCall };
}

function planAfterTools(facts: ConversationFacts, random: SeededRandom): ReplyPlan {
  const u = facts.user;
  const results = facts.toolResults.slice(0, 3);
  const reported = results.map((r) => `The \`${r.name}\` tool returned ${quoted(r.quote)}`).join(' ');
  const follow = random.pick([
    `Based on that, a real model would now answer your message, ${quoted(u.quote)}`,
    'That result is passed on as it is; a real model would interpret it for you.',
    'A real model would turn that result into a full answer; the simulator only relays it.',
  ]);
  const content = ` ${reported} ${SIMULATION_NOTICE} ${follow} ${random.pick(CLOSINGS)}`;
  let reasoning = '';
  if (facts.thinking) {
    const first = results[0];
    reasoning =
      ` The tool \`${first?.name ?? 'tool'}\` has returned ${quoted(first?.quote ?? '')}` +
      ` The user originally wrote ${quoted(u.quote, ',')} so I should report the result briefly.` +
      ` I am moongate's simulator, so I will quote the result rather than interpret it. `;
  }
  return { reasoning, content, toolCall: undefined };
}
