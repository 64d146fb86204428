/**
 * Shoal's embedding API: createBroker, its configuration, the plugin API,
 * and the types a host application sees. Main thread.
 */
export { Broker, createBroker, type BrokerEvents, type BrokerOptions, type PublishOptions, type SubscribeOptions } from './main/broker.js';
export type { MessageHandler, ReceivedMessage } from './main/router/app-subscribers.js';
export type {
  BrokerStats,
  ClusterStats,
  ConnectionCount,
  HostStats,
  Readiness,
  RouterStats,
  SessionSummary,
  ThreadLoadStats,
  TopSessionsBy,
  TopSessionsOptions,
  TrafficStats,
} from './main/broker-stats.js';
export type { BrokerAddresses } from './main/listeners.js';
export type { TransportInfo, TransportName } from './shared/transport.js';
export type { CloseOptions, DisconnectClientOptions } from './api/server-disconnect.js';
export { ConfigError, configJsonSchema, configTable, defaultConfig, resolveConfig } from './api/config-schema.js';
export {
  type BrokerConfig,
  type ClusterConfig,
  type ClusterOptions,
  type ConfigOptions,
  type Durability,
  type ListenerPools,
  type LogFormat,
  type LogLevel,
  type QueueDropPolicy,
  type SharedSubscriptionStrategy,
} from './api/config.js';
export type {
  Action,
  ConnectAnswer,
  ConnectPacket,
  ReauthAnswer,
  ReauthRequest,
  Runtime,
  RuntimeContext,
  RuntimeFactory,
  RuntimeSpec,
  SessionOptions,
  UserContext,
} from './api/runtime.js';
export type { Logger } from './shared/log.js';
export type { DisconnectCause } from './shared/disconnect-cause.js';
export type { ClientAddress, SessionEventDetails, SessionEventName } from './shared/channel/frames.js';
export type { AppMessage, MessageProperties, QoS } from './shared/message/app-message.js';
export type { BrokerDependencies } from './api/dependencies.js';
export type { RouterBridge } from './api/bridge.js';
export type { BridgeRouteOptions } from './main/router/router.js';
export type { MaybePromise, RetainedStore, RetainedStoreStats } from './api/retained-store.js';
export { MemoryRetainedStore } from './main/router/retained-store.js';
export { ReasonCode } from './shared/codec/reason-codes.js';
export type {
  AuthData,
  AuthModifiers,
  ChainResult,
  ConnectProperties,
  DeliverModifiers,
  DropReason,
  DroppedMessage,
  HookName,
  Hooks,
  M5Error,
  Peer,
  Plugin,
  PluginContext,
  PluginFactory,
  PluginSpec,
  PublishModifiers,
  RegisterModifiers,
  SubscribeModifiers,
  SubscribeTopic,
  SubscriberId,
} from './api/hooks.js';
