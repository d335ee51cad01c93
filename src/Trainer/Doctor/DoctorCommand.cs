using System.CommandLine;
using System.Reflection;
using HpcAdam.Collectives;
using HpcAdam.Training;
using TorchSharp;

namespace HpcAdam.Trainer.Doctor;

/// <summary>
/// `hpcadam doctor`: can this machine (and, under a launcher, every rank) train? Prints what
/// it found and exits 0, or names each reason it cannot and exits 1.
/// </summary>
internal static class DoctorCommand
{
    public static Command Create()
    {
        var share = new Option<bool>("--Device:Share")
        {
            Description = "Ranks may share GPUs: more ranks on a node than visible GPUs is then not a problem.",
        };
        var command = new Command("doctor",
            "Report MPI, launcher, ranks, TorchSharp/libtorch, the GLIBCXX case, each rank's device, CUDA and NCCL; exit 0 when this machine can train.\n" +
            "Run it alone, and under your launcher (mpirun -np 2 hpcadam doctor, srun --mpi=pmix hpcadam doctor).") { share };
        command.SetAction(parsed => Run(parsed.GetValue(share)));
        return command;
    }

    private static int Run(bool shareGpus)
    {
        var report = new DoctorReport();
        LaunchEnvironment launch = LaunchEnvironment.Detect();
        report.Add("hpcadam", typeof(DoctorCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "?");
        report.Add("host", Environment.MachineName);
        report.Add("launcher", launch.IsLaunched ? $"{launch.Launcher}, {(launch.Size is int size ? $"{size}" : "?")} processes" : "none: single process");
        bool mpiLoads = DescribeMpi(report, launch);
        ICommunicator? communicator = mpiLoads ? OpenCommunicator(report, launch) : null;
        CheckTorch(report);
        DescribeGpu(report, communicator, shareGpus);
        int failedRanks = CountFailedRanks(communicator, report);
        report.Print(communicator?.Rank ?? launch.Rank ?? 0, failedRanks, communicator?.Size ?? launch.Size ?? 1);
        communicator?.Dispose();
        return failedRanks == 0 ? ExitCodes.Success : ExitCodes.Failed;
    }

    /// <summary>Reports the MPI library and the shim build loaded for it; false where they do not load.</summary>
    private static bool DescribeMpi(DoctorReport report, LaunchEnvironment launch)
    {
        try
        {
            MpiLibrary mpi = MpiLibrary.Describe();
            report.Add("MPI library", $"{mpi.Name} (MPI {mpi.StandardVersion}.{mpi.StandardSubversion})");
            report.Add("MPI shim", $"{MpiShim.Chosen.FileName} ({MpiShim.Chosen.Reason})");
            return true;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or MpiException)
        {
            if (launch.IsLaunched)
                report.Problem($"MPI cannot be loaded: {e.Message}");
            else
                report.Add("MPI library", $"not loadable ({e.Message}); single-process runs still work");
            return false;
        }
    }

    private static ICommunicator? OpenCommunicator(DoctorReport report, LaunchEnvironment launch)
    {
        if (!launch.IsLaunched)
            return null;
        try
        {
            ICommunicator communicator = CommunicatorFactory.FromEnvironment();
            report.Add("MPI world", $"rank {communicator.Rank} of {communicator.Size}, local rank {communicator.LocalRank} of {communicator.LocalSize}");
            report.Add("collectives", communicator.Description);
            return communicator;
        }
        catch (Exception e) when (e is MpiException or InvalidOperationException or DllNotFoundException)
        {
            report.Problem(e.Message);
            return null;
        }
    }

    private static void CheckTorch(DoctorReport report)
    {
        bool systemHasVersion = LibstdcxxCase.SystemProvidesVersion();
        try
        {
            string libtorch = torch.__version__;
            report.Add("TorchSharp", $"{typeof(torch).Assembly.GetName().Version} (libtorch {libtorch}, {torch.get_num_threads()} threads)");
            using var product = torch.ones(2, 3).matmul(torch.ones(3, 2));
            if (product.sum().item<float>() != 12f)
                report.Problem("TorchSharp computed a wrong matrix product");
            report.Add("libstdc++", systemHasVersion
                ? $"system provides {LibstdcxxCase.Version}: TorchSharp's library is used as shipped"
                : $"system lacks {LibstdcxxCase.Version} (GCC < 13): the build output's libLibTorchSharp.so carries the weak-version fix");
        }
        catch (Exception e) when (e is TypeInitializationException or DllNotFoundException or NotSupportedException)
        {
            string reason = (e.InnerException ?? e).Message;
            report.Problem(systemHasVersion
                ? $"TorchSharp cannot load: {reason}"
                : $"TorchSharp cannot load: {reason}. The system libstdc++ lacks {LibstdcxxCase.Version}: rebuild with 'dotnet build' " +
                  "(it applies the weak-version fix to the output copy) or load a GCC 13+ runtime");
        }
    }

    /// <summary>CUDA, and the device this rank would train on (Device:Name=auto): one GPU per rank unless told to share.</summary>
    private static void DescribeGpu(DoctorReport report, ICommunicator? communicator, bool shareGpus)
    {
        try
        {
            int visible = ComputeDevice.VisibleGpus();
            report.Add("CUDA", visible > 0
                ? $"{visible} visible device(s), {CudaRuntime.Versions()}"
                : "not available (TorchSharp-cpu build or no GPU): training runs on the CPU");
            (torch.Device? device, string? problem) = ComputeDevice.Select(new DeviceSettings { Share = shareGpus },
                communicator?.LocalRank ?? 0, communicator?.LocalSize ?? 1, visible);
            if (problem is not null)
                report.Problem(problem);
            else
                report.Add("device", device!.type == DeviceType.CPU ? "cpu" : $"{device} (local rank {communicator?.LocalRank ?? 0} of {communicator?.LocalSize ?? 1})");
        }
        catch (TypeInitializationException)
        {
            report.Add("CUDA", "unknown (TorchSharp did not load)");
        }
        string? nccl = NcclLibrary.TryGetVersion(out string reason);
        report.Add("NCCL", nccl ?? $"not available: {reason}");
    }

    /// <summary>Every rank learns how many ranks found a problem, so all exit alike.</summary>
    private static int CountFailedRanks(ICommunicator? communicator, DoctorReport report)
    {
        Span<double> failed = [report.HasProblems ? 1 : 0];
        if (communicator is not null)
        {
            communicator.AllReduceSum(failed);
            report.Add("all-reduce check", $"ok, {communicator.Size} rank(s) answered");
        }
        return (int)failed[0];
    }
}
