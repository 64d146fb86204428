/**
 * The actor host's Authenticator (auth-flow.ts): the plugins' on_auth_m5
 * when a plugin implements it, else the runtime's reauth.
 *
 * on_auth_m5: each step of an enhanced authentication exchange (CONNECT,
 * AUTH, re-authentication) asks the plugin chain with (username,
 * subscriberId, { method, data }). `{ ok }` succeeds (or continues with
 * `reason_code: 'continue_authentication'`), sending `auth_data` back; an
 * error refuses with its reason code (default 0x87). A chain answering with a
 * promise (an asynchronous plugin, or an in-process plugin asked from a
 * worker host) decides the step when it settles, within pluginTimeoutMs.
 * Without a plugin implementing on_auth_m5 the runtime's reauth answers each
 * step with the session's user context (undefined at CONNECT), at once or
 * with a promise (one that fails or does not answer within pluginTimeoutMs
 * fails the step with 0x80); the default runtime supports no method (0x8C).
 * Runs wherever the actor host runs.
 */
import { ReasonCode } from '../../src/shared/codec/reason-codes.js';
import { type ChainOutcome } from '../../src/shared/hooks/chain.js';
import type { AuthModifiers } from '../../src/api/hooks.js';
import type { AuthExchange, Authenticator, AuthRequest, AuthStep } from './authenticator.js';
import { refusalOf } from '../hooks/hook-outcomes.js';
import type { HostHooks } from '../hooks/host-hooks.js';
import type { HostRuntime } from '../runtime/host-runtime.js';
import type { ReauthAnswer } from '../../src/api/runtime.js';
import { isPromise } from '../../src/shared/async.js';

export function hostAuthenticator(hooks: HostHooks, host: HostRuntime): Authenticator {
  return {
    start(request): AuthExchange | undefined {
      if (!hooks.has('on_auth_m5')) return runtimeExchange(host, request);
      const subscriberId = { mountpoint: request.pool, clientId: request.clientId };
      return {
        step(data) {
          const outcome = hooks.tillOk<AuthModifiers>('on_auth_m5', [request.username, subscriberId, { method: request.method, data }]);
          return isPromise(outcome) ? outcome.then(authStep) : authStep(outcome);
        },
      };
    },
  };
}

/** An exchange answered by the runtime's reauth; none with the default runtime's. */
function runtimeExchange(host: HostRuntime, request: AuthRequest): AuthExchange | undefined {
  if (!host.reauthenticates) return undefined;
  return {
    step(data) {
      const answer = host.reauth({ method: request.method, data, reauthentication: request.reauthentication }, request.userContext);
      return isPromise(answer) ? answer.then((a) => reauthStep(a as ReauthAnswer, request.method)) : reauthStep(answer, request.method);
    },
  };
}

function reauthStep(answer: ReauthAnswer, method: string): AuthStep {
  if (answer === 'not_supported') {
    return {
      outcome: 'failure',
      reasonCode: ReasonCode.BadAuthenticationMethod,
      reasonString: `Authentication Method ${method} is not supported`,
    };
  }
  return answer;
}

function authStep(outcome: ChainOutcome<AuthModifiers>): AuthStep {
  if (outcome.kind === 'ok') {
    const mods = outcome.modifiers ?? {};
    const outcomeName = mods.reason_code === 'continue_authentication' ? 'continue' : 'success';
    return Buffer.isBuffer(mods.auth_data) ? { outcome: outcomeName, data: mods.auth_data } : { outcome: outcomeName };
  }
  if (outcome.kind === 'error') {
    const refusal = refusalOf(outcome.reason, ReasonCode.NotAuthorized);
    const step: AuthStep = {
      outcome: 'failure',
      reasonCode: refusal.reasonCode,
      reasonString: refusal.reasonString ?? 'authentication refused',
    };
    if (refusal.serverReference !== undefined) step.serverReference = refusal.serverReference;
    return step;
  }
  return { outcome: 'failure', reasonCode: ReasonCode.NotAuthorized, reasonString: 'no plugin accepted the authentication' };
}
