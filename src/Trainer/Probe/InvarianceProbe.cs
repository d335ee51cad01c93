using System.Runtime.InteropServices;
using HpcAdam.Collectives;
using HpcAdam.Optim;
using HpcAdam.Trainer.Data;
using HpcAdam.Trainer.Models;
using HpcAdam.Trainer.Training;
using static TorchSharp.torch;

namespace HpcAdam.Trainer.Probe;

/// <summary>
/// From one set of weights and optimizer state (the initial weights after a warm-up of
/// Micro-Adam, so that the moments have a history as in the paper's theorems rather than the
/// first-step transient of a fresh state), runs the same micro-batches of the global stream as Micro-Adam
/// (κ = 1, the reference of the paper's theorems) and as merged steps of κ micro-batches with
/// BSI-Adam (<c>linear</c>) and standard Adam (<c>sqrt</c>), for each base learning rate, and
/// measures how far each ends from Micro-Adam: ‖w_κ − w_micro‖ / ‖w_micro − w_0‖. Every rank
/// computes its share of each step's micro-batches (k ≡ rank mod P) and one all-reduce sums
/// [S1 | S2], exactly as training does.
/// </summary>
internal sealed class InvarianceProbe(ICommunicator communicator, ProbeSettings settings, Action<string> progress)
{
    /// <summary>The relative weight discrepancy of one (optimizer, rule, base learning rate, κ).</summary>
    public sealed record Run(string Optimizer, string Scaling, double LearningRate, int Kappa, double Discrepancy);

    public IReadOnlyList<Run> Measure()
    {
        using var scope = NewDisposeScope();
        using var data = ImageClassificationSet.Load(settings.Data, settings.DataDirectory, train: true, settings.Seed);
        manual_seed(settings.Seed);
        var model = Mlp.Create(data.Images[0].numel(), settings.Hidden, ImageClassificationSet.ClassCount);
        using var parameters = new FlatParameters(model);
        // Every rank starts from rank 0's weights, whatever its random state.
        communicator.Broadcast(MemoryMarshal.Cast<byte, float>(parameters.Weights.bytes), root: 0);
        using Tensor initial = parameters.Weights.clone();
        using var sums = new StepBuffer(parameters.Count);
        var stream = new MicroBatchStream(data.Count, settings.MicroBatchSize, settings.Seed);

        var runs = new List<Run>();
        foreach (double learningRate in settings.LearningRates)
        {
            progress($"base learning rate {learningRate:G3}: {settings.WarmupMicroBatches} warm-up micro-batches of Micro-Adam, " +
                     $"then Micro-Adam, BSI-Adam and Adam at κ = {string.Join(", ", settings.Kappas)} on the next {settings.MicroBatches}");
            var hyperparameters = new AdamHyperparameters(learningRate, settings.Gamma1, settings.Gamma2);
            parameters.Weights.copy_(initial);
            using var warm = new FlatOptimizer(parameters.Weights, OptimizerKind.MicroAdam, hyperparameters, ScalingRule.Linear, settings.MaxKappa);
            Steps(warm, kappa: 1, first: 0, count: settings.WarmupMicroBatches);
            using Tensor start = parameters.Weights.clone();

            using Tensor micro = Train(OptimizerKind.MicroAdam, ScalingRule.Linear, kappa: 1);
            using Tensor microChange = micro - start;
            double microDistance = microChange.norm().item<float>();
            foreach ((OptimizerKind kind, ScalingRule rule) in new[] { (OptimizerKind.BsiAdam, ScalingRule.Linear), (OptimizerKind.Adam, ScalingRule.Sqrt) })
                foreach (int kappa in settings.Kappas)
                {
                    using Tensor merged = Train(kind, rule, kappa);
                    using Tensor gap = merged - micro;
                    runs.Add(new Run(OptimizerNames.Name(kind), rule.ToString().ToLowerInvariant(), learningRate, kappa, gap.norm().item<float>() / microDistance));
                }

            // From the warmed-up weights and state, the same micro-batches as steps of κ.
            Tensor Train(OptimizerKind kind, ScalingRule rule, int kappa)
            {
                parameters.Weights.copy_(start);
                using var optimizer = new FlatOptimizer(parameters.Weights, kind, hyperparameters, rule, settings.MaxKappa);
                optimizer.State.CopyFrom(warm.State);
                Steps(optimizer, kappa, settings.WarmupMicroBatches, settings.MicroBatches);
                return parameters.Weights.clone();
            }
        }
        return runs;

        void Steps(FlatOptimizer optimizer, int kappa, int first, int count)
        {
            for (int step = first; step < first + count; step += kappa)
            {
                sums.Clear();
                for (int k = 0; k < kappa; k++)
                    if (k % communicator.Size == communicator.Rank)
                        AccumulateGradient(stream.Indices(step + k));
                sums.Reduce(communicator, stopRequested: false);
                optimizer.Step(sums.S1, sums.S2, kappa);
            }
        }

        void AccumulateGradient(long[] indices)
        {
            using var step = NewDisposeScope();
            using Tensor index = tensor(indices);
            parameters.ZeroGradients();
            Tensor loss = nn.functional.cross_entropy(model.forward(data.Images.index_select(0, index)), data.Labels.index_select(0, index));
            loss.backward();
            sums.Add(parameters.Gradients, loss.item<float>(), indices.Length);
        }
    }

    /// <summary>
    /// The paper's critical learning rate (Fig. 2): the largest base learning rate at which, as at
    /// every smaller one tried, BSI-Adam stays under the threshold at every κ; null if the smallest fails.
    /// </summary>
    public static double? CriticalLearningRate(IReadOnlyList<Run> runs, double threshold) =>
        runs.Where(run => run.Optimizer == OptimizerNames.Name(OptimizerKind.BsiAdam))
            .GroupBy(run => run.LearningRate)
            .OrderBy(group => group.Key)
            .TakeWhile(group => group.All(run => run.Discrepancy < threshold))
            .Select(group => (double?)group.Key)
            .LastOrDefault();
}
