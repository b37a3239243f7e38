/**
 * The loopback server of bench/judge.ts, run in its own process so that its CPU time is not
 * counted as the judge's: an OpenAI-compatible endpoint answering every request at once with
 * a one-token verdict and its top log-probs. Prints its base URL on stdout, then serves until
 * killed.
 */
import { chatReply, startScriptedServer } from '../src/providers/scripted-server.ts';

const top = [{ token: 'A', logprob: Math.log(0.7) }, { token: 'B', logprob: Math.log(0.3) }];
const reply = chatReply('A', [{ ...top[0], top_logprobs: top }]);
const server = await startScriptedServer(() => ({ body: reply }), { keepBodies: false });
process.stdout.write(`${server.baseUrl}\n`);
