/**
 * on_auth_m5 as the actor host's Authenticator (auth-flow.ts): each step of
 * an enhanced authentication exchange (CONNECT, AUTH, re-authentication) asks
 * the plugin chain with (username, subscriberId, { method, data }). `{ ok }`
 * succeeds (or continues with `reason_code: 'continue_authentication'`),
 * sending `auth_data` back; an error refuses with its reason code (default
 * 0x87). A chain answering with a promise (an asynchronous plugin, or an
 * in-process plugin asked from a worker host) decides the step when it
 * settles, within pluginTimeoutMs. Without a plugin implementing on_auth_m5
 * every method is unsupported (0x8C). Runs wherever the actor host runs.
 */
import { ReasonCode } from '../src/codec/reason-codes.js';
import { isPromise, type ChainOutcome } from '../src/hooks/chain.js';
import type { AuthModifiers } from '../src/hooks/types.js';
import type { AuthExchange, Authenticator, AuthStep } from './auth-flow.js';
import { refusalOf } from './hook-outcomes.js';
import type { HostHooks } from './host-hooks.js';

export function pluginAuthenticator(hooks: HostHooks): Authenticator {
  return {
    start(request): AuthExchange | undefined {
      if (!hooks.has('on_auth_m5')) return undefined;
      const subscriberId = { mountpoint: '', clientId: request.clientId };
      return {
        step(data) {
          const outcome = hooks.tillOk<AuthModifiers>('on_auth_m5', [request.username, subscriberId, { method: request.method, data }]);
          return isPromise(outcome) ? outcome.then(authStep) : authStep(outcome);
        },
      };
    },
  };
}

function authStep(outcome: ChainOutcome<AuthModifiers>): AuthStep {
  if (outcome.kind === 'ok') {
    const mods = outcome.modifiers ?? {};
    const outcomeName = mods.reason_code === 'continue_authentication' ? 'continue' : 'success';
    return Buffer.isBuffer(mods.auth_data) ? { outcome: outcomeName, data: mods.auth_data } : { outcome: outcomeName };
  }
  if (outcome.kind === 'error') {
    const refusal = refusalOf(outcome.reason, ReasonCode.NotAuthorized);
    return { outcome: 'failure', reasonCode: refusal.reasonCode, reasonString: refusal.reasonString ?? 'authentication refused' };
  }
  return { outcome: 'failure', reasonCode: ReasonCode.NotAuthorized, reasonString: 'no plugin accepted the authentication' };
}
